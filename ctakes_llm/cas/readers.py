"""Turn inputs into CASes: plain-text notes, cTAKES XMI, directories of either, and standard input.

Text is decoded exactly as stored (no newline translation), so offsets match what cTAKES computes on the same
file. Whether a file is XMI is decided by its content (an XML declaration or the XMI namespace), not only by its
suffix: cTAKES output often ends in ``.xml`` or ``.txt.xmi``.
"""

from __future__ import annotations

import codecs
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from cassis import Cas, TypeSystem

from ctakes_llm.cas.document import CTAKES_TEXT_MIME, ensure_document_annotation, ensure_document_id
from ctakes_llm.cas.typesystem import DEFAULT_TYPESYSTEM, as_typesystem
from ctakes_llm.cas.uima_names import XMI_NS
from ctakes_llm.cas.xmi import cas_from_xmi_bytes
from ctakes_llm.errors import InputError

logger = logging.getLogger(__name__)

STDIN = "-"
AUTO_ENCODING = "auto"  # UTF-8, falling back to cp1252
_SNIFF_BYTES = 4096
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def read_text(path: Path | str, encoding: str = "utf-8") -> str:
    """Read a note as text, byte-exact apart from a leading byte-order mark.

    Args:
        path: the file.
        encoding: its encoding (``utf-8`` by default; ``cp1252``, ``latin-1``... for older notes).

    Returns:
        The text; ``\\r\\n`` line ends are kept, as cTAKES keeps them.

    Raises:
        InputError: the file cannot be read, does not decode with ``encoding``, or holds no text.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"[E120] cannot read {str(path)!r}: {err.strerror}") from err
    return decode_text(data, encoding, source=str(path))


def decode_text(data: bytes, encoding: str = "utf-8", *, source: str) -> str:
    """Decode a note's bytes like :func:`read_text`; ``source`` names it in messages.

    ``encoding="auto"`` reads UTF-8 and falls back to cp1252 (with a warning) for bytes that are not UTF-8: the
    Windows quotes many legacy note exports carry.

    Raises:
        InputError: the bytes do not decode with ``encoding``, the encoding is unknown, or there is no text.
    """
    if encoding == AUTO_ENCODING:
        try:
            return decode_text(data, "utf-8", source=source)
        except InputError as err:
            if "[E121]" not in str(err):
                raise
            logger.warning("%s is not valid UTF-8; read as cp1252 (--encoding auto)", source)
            return decode_text(data, "cp1252", source=source)
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as err:
        raise InputError(
            f"[E123] unknown encoding {encoding!r} for {source}. Use a Python codec name such as cp1252."
        ) from err
    try:
        text = data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as err:
        bad = data[err.start : err.start + 1].hex()
        hint = (
            "pass --encoding cp1252 (Windows) or --encoding latin-1"
            if codec == "utf-8"
            else "pass the right --encoding"
        )
        raise InputError(
            f"[E121] {source} is not valid {codec} (byte 0x{bad} at offset {err.start}): {hint}, "
            "or convert the file to UTF-8."
        ) from err
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InputError(f"[E122] {source} is empty or only whitespace: there is nothing to annotate.")
    return text


def cas_from_text(
    text: str, typesystem: TypeSystem | str | Path = DEFAULT_TYPESYSTEM, document_id: str | None = None
) -> Cas:
    """A new CAS holding ``text`` as its document, as a cTAKES collection reader makes it.

    Adds a ``uima.tcas.DocumentAnnotation`` over the whole text and, when ``document_id`` is given, a cTAKES
    ``DocumentID``.

    Args:
        text: the note text (Python string; offsets inside are code points).
        typesystem: a loaded type system or a name / path for :func:`load_typesystem`.
        document_id: the note's identifier, usually its file name.

    Returns:
        The CAS.
    """
    cas = Cas(typesystem=as_typesystem(typesystem))
    cas.sofa_string = text
    cas.sofa_mime = CTAKES_TEXT_MIME
    ensure_document_annotation(cas)
    if document_id is not None:
        ensure_document_id(cas, document_id)
    return cas


def read_document(
    path: Path | str,
    typesystem: TypeSystem | str | Path = DEFAULT_TYPESYSTEM,
    encoding: str = "utf-8",
    document_id: str | None = None,
) -> Cas:
    """Read a plain-text note or a UIMA XMI file into a CAS, telling them apart by content.

    Args:
        path: the file, or ``-`` for standard input.
        typesystem: a loaded type system or a name / path for :func:`load_typesystem`.
        encoding: the encoding of text notes (XMI declares its own).
        document_id: the ``DocumentID`` for a text note; defaults to the file name (``stdin`` for ``-``).

    Returns:
        The CAS.

    Raises:
        InputError: the file cannot be read or parsed (the one-line message names it).
    """
    if str(path) == STDIN:
        return read_stream(sys.stdin.buffer, typesystem, encoding, source="<stdin>", document_id=document_id or "stdin")
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"[E120] cannot read {str(path)!r}: {err.strerror}") from err
    return _document_from_bytes(data, typesystem, encoding, str(path), document_id or path.name, path.suffix)


def read_stream(
    stream: BinaryIO,
    typesystem: TypeSystem | str | Path = DEFAULT_TYPESYSTEM,
    encoding: str = "utf-8",
    *,
    source: str = "<stdin>",
    document_id: str | None = None,
) -> Cas:
    """Read one document (text or XMI) from a binary stream such as ``sys.stdin.buffer``.

    Raises:
        InputError: the content cannot be decoded or parsed.
    """
    return _document_from_bytes(stream.read(), typesystem, encoding, source, document_id, "")


def is_xmi(data: bytes, suffix: str = "") -> bool:
    """Whether a document's bytes are (meant to be) XMI rather than plain text.

    True for a ``.xmi`` suffix, an XML declaration, or an XML start mentioning the XMI namespace early on. A
    note that merely starts with ``<`` stays text.
    """
    if suffix.lower() == ".xmi":
        return True
    head = data[:_SNIFF_BYTES]
    for bom in _BOMS:
        head = head.removeprefix(bom)
    head = head.lstrip()
    if head.startswith(b"<?xml"):
        return True
    return head.startswith(b"<") and XMI_NS.encode() in head


def _document_from_bytes(
    data: bytes, typesystem: TypeSystem | str | Path, encoding: str, source: str, document_id: str | None, suffix: str
) -> Cas:
    if is_xmi(data, suffix):
        return cas_from_xmi_bytes(data, typesystem, source=source)
    return cas_from_text(decode_text(data, encoding, source=source), typesystem, document_id)


def iter_input_paths(inputs: Iterable[Path | str], glob: str = "**/*", *, include_hidden: bool = False) -> list[Path]:
    """The files to process: files as given, directories searched recursively with ``glob``.

    Hidden files and folders (name starting with ``.``) inside directories are skipped unless ``include_hidden``.
    Each directory's files come in sorted order; the order of ``inputs`` is kept and duplicates are dropped.
    ``-`` (standard input) is passed through.

    Args:
        inputs: files, directories or ``-``.
        glob: the pattern for directories, relative to each (``**/*.txt``; ``**/*`` takes every file).

    Returns:
        The paths, in a stable order.

    Raises:
        InputError: an input does not exist, or nothing at all was found.
    """
    inputs = list(inputs)
    found: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if str(item) == STDIN:
            candidates = [path]
        elif path.is_dir():
            candidates = sorted(
                p for p in path.glob(glob) if p.is_file() and (include_hidden or not _is_hidden(p.relative_to(path)))
            )
        elif path.is_file():
            candidates = [path]
        else:
            raise InputError(f"[E124] input {str(path)!r} does not exist. Check the path.")
        for candidate in candidates:
            key = candidate.resolve() if str(candidate) != STDIN else candidate
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    if not found:
        shown = ", ".join(repr(str(i)) for i in inputs)
        raise InputError(f"[E125] no input files found in {shown} with pattern {glob!r}. Check the paths and --glob.")
    return found


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
