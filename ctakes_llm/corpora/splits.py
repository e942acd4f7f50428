"""Read a corpus's ``split.json``: document ids (or file names) per split."""

from __future__ import annotations

import json
from pathlib import Path

from ctakes_llm.errors import CorpusError

SPLITS = ("train", "dev", "test")


def read_split(corpus_dir: str | Path, split: str) -> list[str]:
    """The entries of one split in ``<corpus_dir>/split.json``.

    Args:
        corpus_dir: Corpus folder holding ``split.json``.
        split: ``train``, ``dev`` or ``test``.

    Returns:
        Document ids (BRAT corpora) or file names (PubTator corpora), in file order.

    Raises:
        CorpusError: the file is missing or malformed, or has no such split.
    """
    if split not in SPLITS:
        raise CorpusError(f"[E204] unknown split {split!r}; use one of {', '.join(SPLITS)}")
    path = Path(corpus_dir) / "split.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"[E205] {path} not found; the corpus folder needs a split.json") from None
    except json.JSONDecodeError as exc:
        raise CorpusError(f"[E206] {path} is not valid JSON ({exc}); fix the file") from exc
    entries = raw.get(split) if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise CorpusError(f"[E207] {path} has no list of strings under {split!r}; add one")
    return list(entries)
