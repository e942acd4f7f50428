"""Read Anafora XML gold (the format of cTAKES's own gold annotations) into :class:`GoldDocument` values.

An Anafora corpus keeps each note in a folder of its own: ``<id>/<id>`` is the text and
``<id>/<id>.<schema>.<annotator>.<status>.xml`` the annotations. Flat folders (``<id>.txt`` or ``<id>`` beside the
XML) and a separate text folder work too. Each ``<entity>`` has an ``<id>``, a ``<span>`` (``begin,end``; several
fragments are joined by ``;``), a ``<type>`` and ``<properties>``.

Choices:

* An entity type becomes a class through a :class:`LabelMap` (bundled: ``mappings/anafora.json``); other types
  are ignored. A discontinuous span becomes one mention over its covering span, as in the BRAT reader.
* Assertions follow the cTAKES 4 schema, where a mention's property points at an attribute entity:
  ``negation_indicator`` -> ``negation_indicator_class`` (``negation_present`` gives ``polarity="-1"``),
  ``uncertainty_indicator``, ``conditional``, ``generic``, ``historyOf`` and ``subject`` (a ``Person``). THYME's
  inline ``<Polarity>NEG</Polarity>`` works too. Every mention has ``polarity`` ("-1" or "1").
* ``associatedCode`` gives the mention's CUIs (every ``C0000000``-shaped code in it).
* Offsets may have been made on a text with other line ends than the file on disk (Anafora shown a CRLF note, the
  file later stored with LF, or the reverse). Each reading is tried (as-is, offsets on a CRLF copy, offsets on an
  LF copy); the one whose spans start and end on word boundaries most often wins, as-is on ties, and the offsets
  are moved onto the text as it is on disk. The choice is logged.
* The text is decoded as UTF-8; bytes that are not UTF-8 become U+FFFD (one character per byte, as cTAKES's
  Java reader does), so offsets stay put. The count is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import LabelMap, load_label_map
from ctakes_llm.errors import CorpusError
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass

logger = logging.getLogger(__name__)

_CUI = re.compile(r"\bC\d{7}\b")
_TEXT_SUFFIXES = ("", ".txt")

# property on the mention -> (normalization property on the attribute entity, value that means "present",
# Mention attribute and the value it gets when present, value when absent or None to leave it out)
_LINKED: dict[str, tuple[str, frozenset[str], str, str, str | None]] = {
    "negation_indicator": (
        "negation_indicator_normalization",
        frozenset({"negation_present"}),
        "polarity",
        "-1",
        "1",
    ),
    "uncertainty_indicator": (
        "uncertainty_indicator_normalization",
        frozenset({"indicator_present"}),
        "uncertainty",
        "1",
        None,
    ),
    "conditional": ("conditional_normalization", frozenset({"true"}), "conditional", "true", None),
    "generic": ("generic_normalization", frozenset({"true"}), "generic", "true", None),
    "historyOf": ("historyOf_normalization", frozenset({"true"}), "historyOf", "1", None),
}
_SUBJECT_PROPERTY = "subject"
_SUBJECT_NORMALIZATION = "subject_normalization"
_THYME_POLARITY = "Polarity"


@dataclass(frozen=True, slots=True)
class _Entity:
    entity_id: str
    entity_type: str
    spans: tuple[tuple[int, int], ...]
    properties: Mapping[str, str]


def read_anafora_corpus(
    folder: str | Path,
    label_map: LabelMap | None = None,
    *,
    text_dir: str | Path | None = None,
) -> list[GoldDocument]:
    """Read every Anafora annotation file under a folder, in document-id order.

    Several annotation files of one document (one per schema) are read together.

    Args:
        folder: the corpus root; annotation files are found at any depth.
        label_map: entity type to class; defaults to the bundled ``anafora`` mapping.
        text_dir: where the texts are when they are not beside the XML (``<id>`` or ``<id>.txt``).

    Returns:
        One document per document id.

    Raises:
        CorpusError: the folder has no Anafora files, a text is missing, or a file is malformed.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(f"[E545] Anafora folder {root} not found; point to the folder holding the .xml files")
    by_doc: dict[str, list[Path]] = {}
    for xml_path in sorted(root.rglob("*.xml")):
        if is_anafora_file(xml_path):
            by_doc.setdefault(anafora_document_id(xml_path), []).append(xml_path)
    if not by_doc:
        raise CorpusError(
            f"[E546] no Anafora annotation files (<data><annotations>) under {root}; is this the right folder?"
        )
    label_map = label_map or load_label_map("anafora")
    extra = Path(text_dir) if text_dir is not None else None
    return [
        read_anafora_document(paths, _find_text(doc_id, paths[0], extra), label_map, doc_id=doc_id)
        for doc_id, paths in sorted(by_doc.items())
    ]


def read_anafora_document(
    xml_paths: Path | Sequence[Path],
    text_path: Path,
    label_map: LabelMap | None = None,
    *,
    doc_id: str | None = None,
) -> GoldDocument:
    """Read one note's Anafora annotation file(s) against its text.

    Args:
        xml_paths: the annotation file, or several files of the same note.
        text_path: the note text.
        label_map: entity type to class; defaults to the bundled ``anafora`` mapping.
        doc_id: the document id; defaults to the text file name without ``.txt``.

    Raises:
        CorpusError: a file is missing or malformed, or spans fall outside the text under every line-end reading.
    """
    paths = [xml_paths] if isinstance(xml_paths, Path | str) else list(xml_paths)
    label_map = label_map or load_label_map("anafora")
    text = _read_text(Path(text_path))
    entities: dict[str, _Entity] = {}
    for path in paths:
        entities.update(_read_entities(Path(path)))
    wanted = [e for e in entities.values() if label_map.map(e.entity_type) is not None]
    if unspanned := [e.entity_id for e in wanted if not e.spans]:
        logger.warning("[E554] %s: skipped %d entities without a <span>: %s", paths[0], len(unspanned), unspanned[:5])
        wanted = [e for e in wanted if e.spans]
    to_raw = _choose_line_ends(text, [e.spans for e in wanted], paths[0])
    mentions: dict[tuple[MentionClass, int, int], Mention] = {}
    for entity in wanted:
        cls = label_map.map(entity.entity_type)
        assert cls is not None  # filtered above
        begin, end = to_raw(entity.spans[0][0]), to_raw(entity.spans[-1][1])
        key = (cls, begin, end)
        if key in mentions:
            continue
        mentions[key] = Mention(
            cls,
            begin,
            end,
            text[begin:end],
            attributes=_attributes(entity, entities),
            grounding=Grounding.EXACT,
            concepts=tuple(
                Concept(cui) for cui in dict.fromkeys(_CUI.findall(entity.properties.get("associatedCode", "")))
            ),
        )
    ordered = tuple(sorted(mentions.values(), key=lambda m: (m.begin, m.end, m.cls.value)))
    name = Path(text_path).name
    return GoldDocument(doc_id=doc_id or name.removesuffix(".txt"), text=text, mentions=ordered)


def is_anafora_file(path: Path) -> bool:
    """Whether an XML file is an Anafora annotation file (root ``<data>`` holding ``<annotations>``)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b"<data" in head and b"<annotations" in head


def anafora_document_id(xml_path: Path) -> str:
    """The document id of an annotation file: its name up to the first dot (``ID001.schema.ann.completed.xml``)."""
    return xml_path.name.split(".", maxsplit=1)[0]


def _find_text(doc_id: str, xml_path: Path, text_dir: Path | None) -> Path:
    folders = [xml_path.parent] + ([text_dir] if text_dir is not None else [])
    candidates = [folder / f"{doc_id}{suffix}" for folder in folders for suffix in _TEXT_SUFFIXES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise CorpusError(
        f"[E547] no text for Anafora document {doc_id!r}; tried {tried}. Pass text_dir=<folder of notes>."
    )


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"[E545] note text {path} not found; every Anafora document needs its text") from None
    text = data.decode("utf-8", errors="replace")
    if (bad := text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")) > 0:
        logger.warning("[E549] %s: %d bytes are not UTF-8 and were read as U+FFFD (offsets unchanged)", path, bad)
    return text


def _read_entities(path: Path) -> dict[str, _Entity]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.parse(str(path), parser).getroot()
    except OSError:
        raise CorpusError(f"[E545] Anafora file {path} not found") from None
    except etree.XMLSyntaxError as err:
        raise CorpusError(f"[E550] {path} is not well-formed XML ({err}); fix or re-export it from Anafora") from err
    entities: dict[str, _Entity] = {}
    for element in root.iterfind("./annotations/entity"):
        entity_id = (element.findtext("id") or "").strip()
        entity_type = (element.findtext("type") or "").strip()
        span_text = (element.findtext("span") or "").strip()
        try:
            spans = tuple(_parse_span(fragment) for fragment in span_text.split(";") if fragment.strip())
        except ValueError as err:
            raise CorpusError(
                f"[E551] {path}: entity {entity_id!r} has a bad <span> {span_text!r} ({err}); "
                "spans are 'begin,end' joined by ';'"
            ) from err
        properties_element = element.find("properties")
        properties = {
            child.tag: (child.text or "").strip()
            for child in (properties_element if properties_element is not None else ())
            if isinstance(child.tag, str)
        }
        entities[entity_id] = _Entity(entity_id, entity_type, spans, properties)
    return entities


def _parse_span(fragment: str) -> tuple[int, int]:
    begin_text, end_text = fragment.split(",")
    begin, end = int(begin_text), int(end_text)
    if not 0 <= begin < end:
        raise ValueError(f"need 0 <= begin < end, got {begin},{end}")
    return begin, end


def _attributes(entity: _Entity, entities: Mapping[str, _Entity]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for prop, (normalization, present, name, yes, no) in _LINKED.items():
        target = entities.get(entity.properties.get(prop, ""))
        value = target.properties.get(normalization, "").strip() if target else ""
        if value in present:
            attributes[name] = yes
        elif no is not None:
            attributes[name] = no
    if entity.properties.get(_THYME_POLARITY, "").upper() == "NEG":
        attributes["polarity"] = "-1"
    person = entities.get(entity.properties.get(_SUBJECT_PROPERTY, ""))
    if person and (subject := person.properties.get(_SUBJECT_NORMALIZATION, "").strip()):
        attributes["subject"] = subject
    return attributes


def _choose_line_ends(text: str, spans: Sequence[tuple[tuple[int, int], ...]], source: Path) -> Callable[[int], int]:
    """Pick how the offsets count line ends; return the map from annotation offsets to offsets in ``text``."""
    readings: list[tuple[str, list[int] | None]] = [("as-is", None)]
    if "\r\n" in text:
        readings.append(("offsets on LF text, file has CRLF", _lf_to_raw(text)))
    elif "\n" in text:
        readings.append(("offsets on CRLF text, file has LF", _crlf_to_raw(text)))
    best: tuple[int, str, list[int] | None] | None = None
    for name, table in readings:
        score = _boundary_score(text, spans, table)
        if score is not None and (best is None or score > best[0]):
            best = (score, name, table)
    if best is None:
        raise CorpusError(
            f"[E552] spans of {source} fall outside its text ({len(text)} characters) however line ends are "
            "counted; is this the right text for these annotations?"
        )
    _, name, table = best
    if table is None:
        return lambda offset: offset
    logger.warning("[E553] %s: %s; offsets moved onto the text as stored", source, name)
    return table.__getitem__


def _boundary_score(text: str, spans: Iterable[tuple[tuple[int, int], ...]], table: list[int] | None) -> int | None:
    """Number of spans that start and end on word boundaries; None when a span falls outside the text."""
    limit = len(text) if table is None else len(table) - 1
    score = 0
    for fragments in spans:
        begin, end = fragments[0][0], fragments[-1][1]
        if end > limit:
            return None
        if table is not None:
            begin, end = table[begin], table[end]
        if begin >= end:
            return None
        clean = not text[begin].isspace() and not text[end - 1].isspace()
        clean = clean and not (begin > 0 and text[begin - 1].isalnum() and text[begin].isalnum())
        clean = clean and not (end < len(text) and text[end - 1].isalnum() and text[end].isalnum())
        score += clean
    return score


def _lf_to_raw(text: str) -> list[int]:
    """Offsets in ``text.replace("\\r\\n", "\\n")`` -> offsets in ``text``."""
    table: list[int] = []
    i = 0
    while i < len(text):
        table.append(i)
        i += 2 if text.startswith("\r\n", i) else 1
    table.append(len(text))
    return table


def _crlf_to_raw(text: str) -> list[int]:
    """Offsets in ``text.replace("\\n", "\\r\\n")`` -> offsets in ``text``."""
    table: list[int] = []
    for i, char in enumerate(text):
        if char == "\n":
            table.append(i)  # the inserted "\r"
        table.append(i)
    table.append(len(text))
    return table
