"""Read cTAKES XMI (gold made in a UIMA tool, cTAKES output, or ours) into :class:`GoldDocument` values.

The mentions are the five cTAKES classes and their subtypes, read by :func:`ctakes_llm.cas.mentions.read_mentions`
(assertions and ``UmlsConcept`` CUIs included). A document's id is its path relative to the corpus folder without
the ``.xmi`` suffix (``small/note.txt.xmi`` -> ``small/note.txt``), the name a corpus run gives its outputs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cassis import TypeSystem

from ctakes_llm.cas.mentions import read_mentions
from ctakes_llm.cas.typesystem import DEFAULT_TYPESYSTEM
from ctakes_llm.cas.xmi import read_xmi
from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.errors import CorpusError

logger = logging.getLogger(__name__)

XMI_SUFFIX = ".xmi"


def read_xmi_corpus(path: str | Path, typesystem: TypeSystem | str | Path = DEFAULT_TYPESYSTEM) -> list[GoldDocument]:
    """Read one XMI file, or every ``*.xmi`` under a folder (at any depth), in id order.

    Args:
        path: an ``.xmi`` file or a folder of them.
        typesystem: the type system to read with: a loaded one, a bundled name (``4.0.0``) or a descriptor path.
            Types and features it lacks are kept leniently by the XMI reader.

    Returns:
        One document per file.

    Raises:
        CorpusError: the path does not exist or the folder holds no ``.xmi`` file.
        InputError: a file is not valid XMI (the message names it).
    """
    root = Path(path)
    if root.is_file():
        return [read_xmi_document(root, typesystem, doc_id=xmi_document_id(root, root.parent))]
    if not root.is_dir():
        raise CorpusError(f"[E545] XMI path {root} not found; give an .xmi file or a folder of them")
    files = sorted(p for p in root.rglob(f"*{XMI_SUFFIX}") if p.is_file())
    if not files:
        raise CorpusError(f"[E556] no *{XMI_SUFFIX} files under {root}; is this the right folder?")
    documents = [read_xmi_document(p, typesystem, doc_id=xmi_document_id(p, root)) for p in files]
    logger.info(
        "read %d XMI documents (%d mentions) from %s", len(documents), sum(len(d.mentions) for d in documents), root
    )
    return documents


def read_xmi_document(
    path: str | Path, typesystem: TypeSystem | str | Path = DEFAULT_TYPESYSTEM, *, doc_id: str | None = None
) -> GoldDocument:
    """Read the text and mentions of one XMI file.

    Args:
        path: the ``.xmi`` file.
        typesystem: as for :func:`read_xmi_corpus`.
        doc_id: the document id; defaults to the file name without ``.xmi``.

    Raises:
        InputError: the file cannot be read or is not valid XMI.
    """
    path = Path(path)
    cas = read_xmi(path, typesystem)
    return GoldDocument(
        doc_id=doc_id or path.name.removesuffix(XMI_SUFFIX),
        text=cas.sofa_string or "",
        mentions=tuple(read_mentions(cas)),
    )


def xmi_document_id(path: Path, root: Path) -> str:
    """The id of an XMI file: its POSIX path relative to ``root`` without the ``.xmi`` suffix."""
    return path.relative_to(root).as_posix().removesuffix(XMI_SUFFIX)
