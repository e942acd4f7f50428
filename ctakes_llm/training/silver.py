"""Silver corpora: mentions a large generative LLM wrote, read back as training documents for the student.

Why: this is the teacher step of UniversalNER-style targeted distillation. The LLM runs where a GPU is, through our
own annotator (``ctakes-llm annotate notes/ -o silver/ --backend openai ...``), and its output (XMI, BRAT or JSONL,
all carrying cTAKES classes) becomes training data here. The LLM was asked for all five classes, so a silver
document annotates every class: a token outside its mentions is taught ``O``, as in MACCROBAT.

A silver document that repeats a held-out MACCROBAT document, whole or in part, would leak dev (model selection) or
test (evaluation) into training, so :func:`read_silver` refuses any that shares a run of ``SHARED_WORDS`` words
with one (a note built from pasted case-report passages leaks as surely as a copy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import CTAKES_LABEL_MAP
from ctakes_llm.corpora.load import load_corpus
from ctakes_llm.errors import CorpusError
from ctakes_llm.training.config import PRIMARY_CORPUS

#: cTAKES class labels, every class annotated; named ``silver`` so its windows can be told apart
SILVER_LABEL_MAP = replace(CTAKES_LABEL_MAP, corpus="silver")

#: a run of this many words shared with a held-out document is a copied passage, not a coincidence
SHARED_WORDS = 12
_HELD_OUT_USE = {"dev": "dev is for model selection only", "test": "test is for evaluation only"}


def read_silver(path: Path, held_out: Mapping[str, Sequence[GoldDocument]]) -> list[GoldDocument]:
    """Read one silver corpus (any format :func:`ctakes_llm.corpora.load.load_corpus` reads) and check it.

    Args:
        path: the file or folder an annotate run wrote.
        held_out: split name (``dev``, ``test``) to the primary corpus's documents of that split; no silver
            document may share ``SHARED_WORDS`` consecutive words (or, if shorter, its whole text) with one.

    Returns:
        The silver documents, in id order.

    Raises:
        CorpusError: the path is missing or unreadable, holds no documents or no mention at all, or a document
            repeats a passage of a held-out document.
    """
    documents = load_corpus(path)
    if not documents:
        raise CorpusError(f"[E520] silver corpus {path} holds no documents; give the output of 'ctakes-llm annotate'")
    _refuse_held_out(path, documents, held_out)
    if not any(document.mentions for document in documents):
        raise CorpusError(
            f"[E521] silver corpus {path} has {len(documents)} documents but no mention of the five classes; did the "
            "LLM answer nothing, or were its labels not cTAKES classes? Check the annotate run's summary"
        )
    return documents


def _refuse_held_out(
    path: Path, documents: Sequence[GoldDocument], held_out: Mapping[str, Sequence[GoldDocument]]
) -> None:
    known: dict[tuple[str, ...], tuple[str, str]] = {}
    for split, docs in held_out.items():
        for doc in docs:
            for passage in _passages(doc.text):
                known.setdefault(passage, (split, doc.doc_id))
    for document in documents:
        for passage in _passages(document.text):
            found = known.get(passage)
            if found is None:
                continue
            split, doc_id = found
            use = _HELD_OUT_USE.get(split, f"{split} is held out")
            raise CorpusError(
                f"[E522] silver corpus {path}: document {document.doc_id!r} repeats text of {PRIMARY_CORPUS} {split} "
                f'document {doc_id!r} ("{" ".join(passage)}"); {use}; remove it from the silver corpus'
            )


def _passages(text: str) -> list[tuple[str, ...]]:
    """Every run of ``SHARED_WORDS`` words of ``text`` in text order, case-folded; a shorter text is one run of all
    its words."""
    words = text.casefold().split()
    if len(words) <= SHARED_WORDS:
        return [tuple(words)] if words else []
    return [tuple(words[start : start + SHARED_WORDS]) for start in range(len(words) - SHARED_WORDS + 1)]
