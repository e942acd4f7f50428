"""JSON Lines output: one document per line, for people who work outside UIMA.

A record::

    {"id": "notes/a.txt", "text": "No cough.",
     "mentions": [{"class": "SignSymptom", "begin": 3, "end": 8, "text": "cough", "polarity": -1,
                   "attributes": {"polarity": "-1"}, "concepts": [{"cui": "C0010200", ...}], "score": 0.93}]}

``begin``/``end`` are Python code-point offsets into ``text`` (not UTF-16 as in XMI). ``polarity`` is cTAKES's
value as a number: -1 negated, 1 not negated, 0 when no assertion step ran. ``attributes`` holds the assertion
values that differ from cTAKES's defaults, as strings (see :mod:`ctakes_llm.cas.mentions`); ``score`` is null when
the mention has none.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cassis import Cas

from ctakes_llm.cas.atomic import atomic_write
from ctakes_llm.cas.ctakes_types import F_POLARITY
from ctakes_llm.cas.mentions import read_mentions
from ctakes_llm.ner.mention import Mention

_LINE_SEPARATORS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def cas_to_record(cas: Cas, document_id: str) -> dict[str, Any]:
    """The JSON-serializable record of one document: its id, text and mentions in text order.

    Args:
        cas: A CAS (its current view) with cTAKES mentions.
        document_id: The record's ``id`` (the runner uses the output path relative to the output folder).
    """
    return {
        "id": document_id,
        "text": cas.sofa_string or "",
        "mentions": [mention_to_dict(mention) for mention in read_mentions(cas)],
    }


def mention_to_dict(mention: Mention) -> dict[str, Any]:
    """One mention of a record."""
    return {
        "class": mention.cls.label,
        "begin": mention.begin,
        "end": mention.end,
        "text": mention.text,
        "polarity": int(mention.attributes.get(F_POLARITY, "0")),
        "attributes": dict(mention.attributes),
        "concepts": [asdict(concept) for concept in mention.concepts],
        "score": mention.score,
    }


def record_to_line(record: dict[str, Any]) -> str:
    """A record as one JSON line ending in ``\\n``.

    Non-ASCII text stays readable, but every character Python's ``str.splitlines`` breaks on is escaped (JSON
    escapes control characters; U+0085, U+2028 and U+2029 are escaped here), so the file splits into records.
    """
    return json.dumps(record, ensure_ascii=False).translate(_LINE_SEPARATORS) + "\n"


def write_jsonl(cas: Cas, path: Path, document_id: str) -> Path:
    """Write a one-document JSON Lines file atomically (a corpus run writes one line per document instead).

    Raises:
        OutputError: the file cannot be written.
    """
    atomic_write(Path(path), record_to_line(cas_to_record(cas, document_id)))
    return Path(path)
