"""Read ACI-bench visit notes (or their doctor-patient dialogues): unannotated clinical text, used as unlabelled data
for distillation.

The corpus folder holds the challenge CSVs (columns ``dataset``, ``encounter_id``, ``dialogue``, ``note``; fields
span lines, so they are read with :mod:`csv`) and a ``split.json`` naming the CSV files of each split.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ctakes_llm.corpora.splits import read_split
from ctakes_llm.errors import CorpusError

NOTE_COLUMN = "note"
DIALOGUE_COLUMN = "dialogue"


def read_aci_bench_notes(corpus_dir: Path, split: str, column: str = NOTE_COLUMN) -> list[str]:
    """The non-empty texts of ``column`` (the notes, or ``dialogue``) of every CSV in ``split``, in file and row order.

    Raises:
        CorpusError: a CSV is missing, unreadable, or has no such column.
    """
    notes: list[str] = []
    for entry in read_split(corpus_dir, split):
        path = Path(corpus_dir) / entry
        try:
            with path.open(newline="", encoding="utf-8") as stream:
                reader = csv.DictReader(stream)
                if column not in (reader.fieldnames or []):
                    raise CorpusError(f"[E542] {path} has no {column!r} column; expected an ACI-bench CSV")
                notes.extend(row[column] for row in reader if row[column].strip())
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CorpusError(f"[E543] cannot read {path}: {exc}") from exc
    return notes
