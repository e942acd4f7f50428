"""One front door to every gold (or predicted) corpus format: ``load_corpus(path)`` sniffs the format and reads it.

=============== ================================================ ===========================================
format          what the path is                                 read by
=============== ================================================ ===========================================
``brat``        folder(s) of ``<id>.txt`` + ``<id>.ann``         :func:`ctakes_llm.corpora.brat.read_brat_corpus`
``pubtator``    a PubTator file, or a folder of them             :func:`ctakes_llm.corpora.pubtator.read_pubtator`
``anafora``     folder of Anafora ``.xml`` (+ texts)             :func:`ctakes_llm.corpora.anafora.read_anafora_corpus`
``xmi``         an ``.xmi`` file or a folder of them             :func:`ctakes_llm.corpora.xmi_gold.read_xmi_corpus`
``jsonl``       a JSON Lines file (``annotations.jsonl``)        :func:`read_jsonl_corpus`
=============== ================================================ ===========================================

BRAT folders are read at any depth; a document in a subfolder gets the id ``<subfolder>/<id>``, as the other
formats name documents of nested corpora. With no label map, BRAT and PubTator labels must be cTAKES class labels
(``DiseaseDisorder``, ``SignSymptom``, ...; what our BRAT writer writes); Anafora uses the bundled ``anafora`` map.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from cassis import TypeSystem

from ctakes_llm.cas.typesystem import DEFAULT_TYPESYSTEM
from ctakes_llm.corpora.anafora import is_anafora_file, read_anafora_corpus
from ctakes_llm.corpora.brat import read_brat_corpus
from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import CTAKES_LABEL_MAP, LabelMap, load_label_map
from ctakes_llm.corpora.pubtator import read_pubtator
from ctakes_llm.corpora.xmi_gold import read_xmi_corpus
from ctakes_llm.errors import ConfigError, CorpusError
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass

logger = logging.getLogger(__name__)

_PUBTATOR_TITLE = re.compile(rb"^[^\s|]+\|t\|", re.MULTILINE)
_SNIFF_BYTES = 4096


class CorpusFormat(enum.Enum):
    """The corpus formats :func:`load_corpus` reads."""

    AUTO = "auto"
    BRAT = "brat"
    PUBTATOR = "pubtator"
    ANAFORA = "anafora"
    XMI = "xmi"
    JSONL = "jsonl"


def load_corpus(
    path: str | Path,
    format: CorpusFormat | str = CorpusFormat.AUTO,
    label_map: LabelMap | str | Path | None = None,
    *,
    typesystem: TypeSystem | str | Path = DEFAULT_TYPESYSTEM,
    text_dir: str | Path | None = None,
) -> list[GoldDocument]:
    """Read a corpus of any supported format, in document-id order.

    Args:
        path: a file or folder (see the module table).
        format: a :class:`CorpusFormat` or its value; ``auto`` sniffs it from the path.
        label_map: corpus label to class, as a :class:`LabelMap`, a bundled name (``maccrobat``) or a JSON path.
            Not used for XMI and JSONL, whose labels are cTAKES classes.
        typesystem: type system for XMI (a bundled name, a descriptor path or a loaded one).
        text_dir: folder of note texts for Anafora annotations stored apart from their texts.

    Returns:
        The documents.

    Raises:
        CorpusError: the path is missing, the format cannot be told, or a file is malformed.
        ConfigError: ``format`` is not a known format.
    """
    root = Path(path)
    if not root.exists():
        raise CorpusError(f"[E545] corpus path {root} not found")
    fmt = _parse_format(format)
    if fmt is CorpusFormat.AUTO:
        fmt = detect_format(root)
        logger.info("%s: read as %s", root, fmt.value)
    labels = _label_map(label_map, fmt)
    if fmt is CorpusFormat.XMI:
        documents = read_xmi_corpus(root, typesystem)
    elif fmt is CorpusFormat.JSONL:
        documents = read_jsonl_corpus(root)
    elif fmt is CorpusFormat.ANAFORA:
        documents = read_anafora_corpus(root, labels, text_dir=text_dir)
    elif fmt is CorpusFormat.BRAT:
        documents = _read_brat_tree(root, labels)
    else:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if _looks_like_pubtator(p))
        documents = [doc for file in files for doc in read_pubtator(file, labels)]
    if documents and not any(doc.mentions for doc in documents):
        label_free = fmt in (CorpusFormat.XMI, CorpusFormat.JSONL)  # their labels are cTAKES types, no map applies
        hint = "it holds no cTAKES mentions" if label_free else "pass a label map for its labels"
        logger.warning("[E559] %s: %d documents but no mention of the five classes; %s", root, len(documents), hint)
    return sorted(documents, key=lambda doc: doc.doc_id)


def detect_format(path: Path) -> CorpusFormat:
    """Tell a corpus's format from its file names and first bytes.

    Raises:
        CorpusError: no format fits, or a folder holds several formats.
    """
    if path.is_file():
        found = _file_format(path)
        if found is None:
            raise CorpusError(
                f"[E557] cannot tell the corpus format of {path}; pass the format (brat, pubtator, anafora, xmi, jsonl)"
            )
        return found
    kinds = {kind for file in _walk(path) if (kind := _file_format(file)) is not None}
    if len(kinds) == 1:
        return kinds.pop()
    if not kinds:
        raise CorpusError(
            f"[E557] no corpus files (.ann, .xmi, Anafora .xml, PubTator, .jsonl) under {path}; "
            "is this the right folder?"
        )
    names = ", ".join(sorted(kind.value for kind in kinds))
    raise CorpusError(f"[E558] {path} holds several corpus formats ({names}); pass the one to read as the format")


def read_jsonl_corpus(path: str | Path) -> list[GoldDocument]:
    """Read JSON Lines records (``{"id", "text", "mentions": [{"class", "begin", "end", ...}]}``), as our runs write.

    Raises:
        CorpusError: the file is missing or a line is not such a record.
    """
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.rglob("*.jsonl"))
    documents = []
    for file in files:
        with file.open(encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    documents.append(_record_to_document(json.loads(line)))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                    raise CorpusError(
                        f"[E555] {file}:{line_no} is not a JSON Lines record ({err}); each line needs id, text and "
                        "mentions with class, begin and end"
                    ) from err
    return documents


def _record_to_document(record: dict[str, object]) -> GoldDocument:
    text = str(record["text"])
    mentions = []
    for item in record["mentions"]:  # type: ignore[attr-defined]
        begin, end = int(item["begin"]), int(item["end"])
        mentions.append(
            Mention(
                MentionClass.from_label(str(item["class"])),
                begin,
                end,
                str(item.get("text", text[begin:end])),
                score=item.get("score"),
                attributes={str(k): str(v) for k, v in (item.get("attributes") or {}).items()},
                grounding=Grounding.MODEL_OFFSETS,
                concepts=tuple(Concept(**concept) for concept in item.get("concepts") or ()),
            )
        )
    mentions.sort(key=lambda m: (m.begin, m.end, m.cls.value))
    return GoldDocument(doc_id=str(record["id"]), text=text, mentions=tuple(mentions))


def _read_brat_tree(root: Path, label_map: LabelMap) -> list[GoldDocument]:
    if root.is_file():
        return read_brat_corpus(root.parent, label_map, ids=[root.stem])
    folders = sorted({ann.parent for ann in root.rglob("*.ann")})
    documents = []
    for folder in folders:
        prefix = folder.relative_to(root).as_posix()
        for doc in read_brat_corpus(folder, label_map):
            documents.append(doc if prefix == "." else dataclasses.replace(doc, doc_id=f"{prefix}/{doc.doc_id}"))
    return documents


def _file_format(path: Path) -> CorpusFormat | None:
    suffix = path.suffix.lower()
    if suffix == ".xmi":
        return CorpusFormat.XMI
    if suffix == ".ann":
        return CorpusFormat.BRAT
    if suffix == ".jsonl":
        return CorpusFormat.JSONL
    if suffix == ".xml":
        return CorpusFormat.ANAFORA if is_anafora_file(path) else None
    if suffix in (".txt", ".pubtator", "") and _looks_like_pubtator(path):
        return CorpusFormat.PUBTATOR
    return None


def _looks_like_pubtator(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    return bool(_PUBTATOR_TITLE.search(head))


def _walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
            yield path


def _parse_format(value: CorpusFormat | str) -> CorpusFormat:
    if isinstance(value, CorpusFormat):
        return value
    try:
        return CorpusFormat(value.strip().lower())
    except ValueError:
        known = ", ".join(f.value for f in CorpusFormat)
        raise ConfigError(f"[E548] unknown corpus format {value!r}; use one of: {known}") from None


def _label_map(value: LabelMap | str | Path | None, fmt: CorpusFormat) -> LabelMap:
    if isinstance(value, LabelMap):
        return value
    if value is not None:
        return load_label_map(value)
    if fmt is CorpusFormat.ANAFORA:
        return load_label_map("anafora")
    return CTAKES_LABEL_MAP
