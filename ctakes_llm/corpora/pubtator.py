"""Read PubTator files (NCBI-disease, BC5CDR) into :class:`GoldDocument` values.

A document is a ``PMID|t|title`` line, a ``PMID|a|abstract`` line and tab-separated mention lines
``PMID start end text type id...``, with offsets into ``title + " " + abstract``. Relation lines (``PMID CID ...``)
are skipped. Mention types outside the label map are dropped. A PMID that appears twice (NCBI train has one) is
kept once, the first time.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import LabelMap
from ctakes_llm.errors import CorpusError
from ctakes_llm.ner.mention import Grounding, Mention

logger = logging.getLogger(__name__)


def read_pubtator(path: str | Path, label_map: LabelMap) -> list[GoldDocument]:
    """Read every document of a PubTator file, in file order.

    Raises:
        CorpusError: the file is missing or not UTF-8, or a mention line is malformed or out of range.
    """
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CorpusError(f"[E212] PubTator file {path} not found; give the path of a *.txt PubTator file") from None
    except UnicodeDecodeError as exc:
        raise CorpusError(f"[E211] {path} is not UTF-8 ({exc}); re-encode it as UTF-8") from exc
    documents: dict[str, GoldDocument] = {}
    for block in content.split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        document = _parse_block(lines, path, label_map)
        if document.doc_id in documents:
            logger.debug("%s: PMID %s appears twice; keeping the first", path, document.doc_id)
            continue
        documents[document.doc_id] = document
    return list(documents.values())


def _parse_block(lines: list[str], path: Path, label_map: LabelMap) -> GoldDocument:
    title = abstract = None
    doc_id = lines[0].split("|", maxsplit=1)[0]
    for line in lines:
        if "|t|" in line[:40]:
            title = line.split("|t|", maxsplit=1)[1]
        elif "|a|" in line[:40]:
            abstract = line.split("|a|", maxsplit=1)[1]
    if title is None or abstract is None:
        raise CorpusError(f"[E213] {path}: document {doc_id} lacks a |t| or |a| line; every block needs both")
    text = f"{title} {abstract}"
    mentions = {}
    for line in lines:
        fields = line.split("\t")
        if len(fields) < 5 or "|t|" in line[:40] or "|a|" in line[:40]:
            continue
        cls = label_map.map(fields[4])
        if cls is None:
            continue
        try:
            begin, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise CorpusError(f"[E214] {path}: mention line {line!r} has non-integer offsets; fix the line") from None
        if not 0 <= begin < end <= len(text):
            raise CorpusError(
                f"[E214] {path}: mention line {line!r} is outside the {len(text)}-character text of {doc_id}"
            )
        mentions[(cls, begin, end)] = Mention(cls, begin, end, text[begin:end], grounding=Grounding.EXACT)
    ordered = tuple(sorted(mentions.values(), key=lambda m: (m.begin, m.end, m.cls.value)))
    return GoldDocument(doc_id=doc_id, text=text, mentions=ordered)
