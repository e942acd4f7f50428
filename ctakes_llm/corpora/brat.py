"""Read BRAT standoff gold (``<id>.txt`` + ``<id>.ann``) into :class:`GoldDocument` values.

Choices:

* A discontinuous span (``T1<TAB>Type 10 15;20 25<TAB>...``) becomes one mention over its *covering* span
  (first fragment's begin to last fragment's end): cTAKES mentions are contiguous, and MACCROBAT has only 44 such
  spans, mostly in types outside the five classes.
* Attributes may sit on an entity (``T``) or on an event (``E``) whose trigger is the entity; MACCROBAT puts them
  on events, so ``A -> E -> T`` is resolved. ``POLARITY NEG`` gives ``polarity="-1"``; ``UNCERTAIN`` and
  ``MAYBE_*`` give ``uncertainty="1"`` (and ``polarity="1"``); every other mention has ``polarity="1"``.
* ctakes-llm's own BRAT output is read back too: binary ``Negation``, ``Uncertainty``, ``Conditional``,
  ``Generic`` and ``HistoryOf`` attributes, ``Subject`` with a value, and CUIs from ``AnnotatorNotes`` lines
  (``C0008031 Chest Pain; C0000001``), so ``evaluate`` scores polarity and CUIs on it.
* Lines are split on tabs with ``maxsplit=2``, so a stray trailing tab stays in the (ignored) text column.
* Two entities of one class on the same span (``Diagnostic_procedure`` and ``Therapeutic_procedure`` both map to
  Procedure) give one mention; a negation on either is kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import LabelMap
from ctakes_llm.errors import CorpusError
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass

logger = logging.getLogger(__name__)

_NEGATED = frozenset({"NEG"})
_UNCERTAIN = frozenset({"UNCERTAIN", "MAYBE_POS", "MAYBE_NEG"})
# attributes ctakes-llm's BRAT writer emits: BRAT name -> (mention attribute, value when the flag is present)
_OUR_FLAGS = {
    "Negation": ("polarity", "-1"),
    "Uncertainty": ("uncertainty", "1"),
    "Conditional": ("conditional", "true"),
    "Generic": ("generic", "true"),
    "HistoryOf": ("historyOf", "1"),
    "Subject": ("subject", "patient"),
}
_CUI = re.compile(r"C\d{7}")


def read_brat_corpus(folder: str | Path, label_map: LabelMap, ids: Iterable[str] | None = None) -> list[GoldDocument]:
    """Read every ``<id>.txt``/``<id>.ann`` pair of a folder, or only the given ids, in id order.

    Raises:
        CorpusError: the folder or a file is missing, or an ``.ann`` line is malformed.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CorpusError(f"[E208] BRAT folder {root} not found; point to the folder holding <id>.txt and <id>.ann")
    doc_ids = sorted(ids) if ids is not None else sorted(path.stem for path in root.glob("*.ann"))
    return [read_brat_document(root / f"{doc_id}.txt", root / f"{doc_id}.ann", label_map) for doc_id in doc_ids]


def read_brat_document(txt_path: str | Path, ann_path: str | Path, label_map: LabelMap) -> GoldDocument:
    """Read one BRAT document; mentions are those whose type the label map knows.

    Entities of the label map's ``unknown_labels`` become the document's ``unknown_spans``.

    Raises:
        CorpusError: a file is missing or not UTF-8, or an ``.ann`` line is malformed or out of range.
    """
    txt_path, ann_path = Path(txt_path), Path(ann_path)
    text = _read(txt_path)
    entities: dict[str, tuple[MentionClass, int, int]] = {}
    event_triggers: dict[str, str] = {}
    polarity: dict[str, str] = {}
    flags: dict[str, dict[str, str]] = {}
    cuis: dict[str, tuple[Concept, ...]] = {}
    unknown: set[tuple[int, int]] = set()
    for line_no, line in enumerate(_read(ann_path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t", maxsplit=2)
        kind = fields[0][:1]
        try:
            if kind == "T":
                label, _, offsets = fields[1].partition(" ")
                cls = label_map.map(label)
                if cls is not None:
                    entities[fields[0]] = (cls, *_extent(offsets, len(text)))
                elif label in label_map.unknown_labels:
                    unknown.add(_extent(offsets, len(text)))
            elif kind == "E":
                trigger = fields[1].split()[0].split(":", maxsplit=1)[1]
                event_triggers[fields[0]] = trigger
            elif kind == "A":
                name, target, *value = fields[1].split()
                if name == "POLARITY" and value:
                    polarity[target] = value[0]
                elif name in _OUR_FLAGS:
                    attribute, present = _OUR_FLAGS[name]
                    flags.setdefault(target, {})[attribute] = value[0] if value else present
            elif kind == "#" and fields[1].startswith("AnnotatorNotes "):
                cuis[fields[1].split()[1]] = _concepts(fields[2] if len(fields) > 2 else "")
        except (IndexError, ValueError) as exc:
            raise CorpusError(
                f"[E209] {ann_path}:{line_no} is not a valid BRAT line ({exc}): {line!r}; fix or remove the line"
            ) from exc
    for target, negation in list(polarity.items()):
        if target in event_triggers:
            polarity.setdefault(event_triggers[target], negation)
    mentions: dict[tuple[MentionClass, int, int], Mention] = {}
    for entity_id, (cls, begin, end) in entities.items():
        if entity_id in flags:
            attributes = {"polarity": "1", **flags[entity_id]}
        else:
            attributes = _attributes(polarity.get(entity_id))
        span = (cls, begin, end)
        if span in mentions and mentions[span].attributes.get("polarity") == "-1":
            continue
        mentions[span] = Mention(
            cls,
            begin,
            end,
            text[begin:end],
            attributes=attributes,
            grounding=Grounding.EXACT,
            concepts=cuis.get(entity_id, ()),
        )
    ordered = tuple(sorted(mentions.values(), key=lambda m: (m.begin, m.end, m.cls.value)))
    return GoldDocument(doc_id=txt_path.stem, text=text, mentions=ordered, unknown_spans=tuple(sorted(unknown)))


def _read(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CorpusError(f"[E210] {path} not found; every BRAT document needs both .txt and .ann") from None
    except UnicodeDecodeError as exc:
        raise CorpusError(f"[E211] {path} is not UTF-8 ({exc}); re-encode it as UTF-8") from exc


def _extent(offsets: str, text_length: int) -> tuple[int, int]:
    """First fragment's begin to last fragment's end of a BRAT offsets field (``0 5;9 12``)."""
    fragments = [tuple(int(value) for value in fragment.split()) for fragment in offsets.split(";")]
    begin, end = fragments[0][0], fragments[-1][1]
    if not 0 <= begin < end <= text_length:
        raise ValueError(f"span [{begin}, {end}) is outside the text of length {text_length}")
    return begin, end


def _concepts(note: str) -> tuple[Concept, ...]:
    """CUIs of an ``AnnotatorNotes`` text: ``C0008031 Chest Pain; C0000001`` (other notes give none)."""
    found = []
    for item in note.split(";"):
        cui, _, preferred = item.strip().partition(" ")
        if _CUI.fullmatch(cui):
            found.append(Concept(cui=cui, preferred_text=preferred.strip() or None))
    return tuple(found)


def _attributes(value: str | None) -> dict[str, str]:
    if value in _NEGATED:
        return {"polarity": "-1"}
    if value in _UNCERTAIN:
        return {"polarity": "1", "uncertainty": "1"}
    return {"polarity": "1"}
