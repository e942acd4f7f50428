"""Silver corpora: mentions a large generative LLM wrote, read back as training documents for the student.

Why: this is the teacher step of UniversalNER-style targeted distillation. The LLM runs where a GPU is, through our
own annotator (``ctakes-llm annotate notes/ -o silver/ --backend openai ...``), and its output (XMI, BRAT or JSONL,
all carrying cTAKES classes) becomes training data here. The LLM was asked for all five classes, so a silver
document annotates every class: a token outside its mentions is taught ``O``, as in MACCROBAT.

A silver document whose text is a held-out MACCROBAT document would leak dev (model selection) or test
(evaluation) into training, so :func:`read_silver` refuses it.
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

_HELD_OUT_USE = {"dev": "dev is for model selection only", "test": "test is for evaluation only"}


def read_silver(path: Path, held_out: Mapping[str, Sequence[GoldDocument]]) -> list[GoldDocument]:
    """Read one silver corpus (any format :func:`ctakes_llm.corpora.load.load_corpus` reads) and check it.

    Args:
        path: the file or folder an annotate run wrote.
        held_out: split name (``dev``, ``test``) to the primary corpus's documents of that split; no silver
            document may have the text of one of them.

    Returns:
        The silver documents, in id order.

    Raises:
        CorpusError: the path is missing or unreadable, holds no documents or no mention at all, or a document
            repeats a held-out document's text.
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
    known: dict[str, tuple[str, str]] = {}
    for split, docs in held_out.items():
        for doc in docs:
            known.setdefault(_normalised(doc.text), (split, doc.doc_id))
    for document in documents:
        found = known.get(_normalised(document.text))
        if found is not None:
            split, doc_id = found
            use = _HELD_OUT_USE.get(split, f"{split} is held out")
            raise CorpusError(
                f"[E522] silver corpus {path}: document {document.doc_id!r} has the text of {PRIMARY_CORPUS} {split} "
                f"document {doc_id!r}; {use}; remove it from the silver corpus"
            )


def _normalised(text: str) -> str:
    return " ".join(text.split())
