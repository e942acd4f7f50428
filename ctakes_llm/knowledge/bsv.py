"""Reader for cTAKES bar-separated-value (BSV) dictionaries, the format cTAKES's fast dictionary lookup reads.

One term per row, in one of three layouts (as ``BsvRareWordDictionary`` and ``BsvConceptFactory`` accept them)::

    CUI|text
    CUI|TUI|text
    CUI|TUI|text|preferred text

Rows starting with ``//`` or ``#`` are comments; blank rows are skipped. Columns are trimmed. A row that fits no
layout is an error naming the file and line (or, with ``strict=False``, is skipped and logged, as cTAKES does).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ctakes_llm.errors import KnowledgeError

logger = logging.getLogger(__name__)

_COMMENT_PREFIXES = ("//", "#")


@dataclass(frozen=True, slots=True)
class DictionaryEntry:
    """One dictionary term: the text to find and the concept it names.

    Attributes:
        cui: the concept id (a UMLS CUI or any code the dictionary uses).
        tui: the UMLS semantic type (``T047``), or None when the row has no TUI column.
        text: the term as written in the dictionary.
        preferred_text: the concept's preferred name, or None.
    """

    cui: str
    tui: str | None
    text: str
    preferred_text: str | None = None


def read_bsv(path: Path | str, *, encoding: str = "utf-8", strict: bool = True) -> list[DictionaryEntry]:
    """Read every entry of a cTAKES BSV dictionary file.

    Args:
        path: the ``.bsv`` file.
        encoding: its text encoding.
        strict: raise on a malformed row; when False, skip it with a warning (cTAKES's behaviour).

    Returns:
        The entries in file order.

    Raises:
        KnowledgeError: the file cannot be read or decoded, has a malformed row (when ``strict``), or holds no entry.
    """
    path = Path(path)
    try:
        with path.open(encoding=encoding, newline="") as handle:
            entries = list(parse_bsv(handle, source=str(path), strict=strict))
    except OSError as err:
        raise KnowledgeError(f"[E500] cannot read the BSV dictionary {str(path)!r}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise KnowledgeError(
            f"[E501] the BSV dictionary {str(path)!r} is not {encoding} text (byte {err.start}); "
            "convert it to UTF-8 or pass its encoding"
        ) from err
    if not entries:
        raise KnowledgeError(f"[E505] the BSV dictionary {str(path)!r} holds no entries; rows look like CUI|TUI|text")
    return entries


def parse_bsv(lines: Iterable[str], *, source: str = "<bsv>", strict: bool = True) -> Iterator[DictionaryEntry]:
    """Parse BSV rows.

    Args:
        lines: the rows, with or without their line endings.
        source: the file name errors and warnings give.
        strict: raise on a malformed row; when False, skip it with a warning.

    Yields:
        One entry per term row.

    Raises:
        KnowledgeError: a row is malformed and ``strict`` is set.
    """
    skipped = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if number == 1:
            line = line.removeprefix("\ufeff")
        stripped = line.strip()
        if not stripped or stripped.startswith(_COMMENT_PREFIXES):
            continue
        try:
            yield _parse_row(line, f"{source}:{number}")
        except KnowledgeError as err:
            if strict:
                raise
            skipped += 1
            logger.warning("%s; row skipped", err)
    if skipped:
        logger.warning("[E507] skipped %d malformed rows in %s", skipped, source)


def _parse_row(line: str, where: str) -> DictionaryEntry:
    """One entry from one non-comment row; ``where`` is ``file:line``."""
    columns = [column.strip() for column in line.split("|")]
    if len(columns) < 2:
        raise KnowledgeError(
            f"[E502] {where}: {line!r} has no '|'; a BSV row is CUI|text, CUI|TUI|text or CUI|TUI|text|preferred"
        )
    if len(columns) > 4:
        raise KnowledgeError(
            f"[E503] {where}: {line!r} has {len(columns)} columns; a BSV row has 2 to 4 (CUI|TUI|text|preferred), "
            "and a '|' inside a term must be removed"
        )
    if len(columns) == 2:
        cui, text = columns
        tui, preferred = "", ""
    else:
        cui, tui, text = columns[:3]
        preferred = columns[3] if len(columns) == 4 else ""
    if not cui or not text:
        missing = "CUI" if not cui else "term text"
        raise KnowledgeError(f"[E504] {where}: {line!r} has an empty {missing} column")
    return DictionaryEntry(cui=cui, tui=tui or None, text=text, preferred_text=preferred or None)
