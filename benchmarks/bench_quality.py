"""Strict and lenient P/R/F1 (per class, micro, macro) on the MACCROBAT test split for the shipped student and
for a BSV dictionary annotator whose dictionary is built from the MACCROBAT train split.

The student runs through the real inference path (``ctakes_llm.backends.token_classifier``: overlapping windows,
BIO decoding, span trimming), by default on the runtime and precision ``annotate`` picks (``auto``: OpenVINO int8 on
x86-64 CPUs). The dictionary baseline is what cTAKES users know: every distinct gold term of the
train split becomes a BSV row ``CUI|TUI|text`` whose TUI stands for the term's most frequent class in train
(T047 DiseaseDisorder, T184 SignSymptom, T060 Procedure, T121 Medication, T023 AnatomicalSite). The test split is
read only here, never in training or model selection. One JSON line per system is appended to
``benchmarks/results/quality.jsonl``.

Example::

    python benchmarks/bench_quality.py                     # shipped student + dictionary, test split
    python benchmarks/bench_quality.py --model runs/x/best --split dev --systems student
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from results_log import append_result, config_record

from ctakes_llm.cas.atomic import atomic_write
from ctakes_llm.corpora.brat import read_brat_corpus
from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import load_label_map
from ctakes_llm.corpora.splits import read_split
from ctakes_llm.evaluation.metrics import score_corpus
from ctakes_llm.ner.mention import Mention, MentionClass

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
SYSTEMS = ("student", "dictionary")
CLASS_TUI = {
    MentionClass.DISEASE_DISORDER: "T047",
    MentionClass.SIGN_SYMPTOM: "T184",
    MentionClass.PROCEDURE: "T060",
    MentionClass.MEDICATION: "T121",
    MentionClass.ANATOMICAL_SITE: "T023",
}


@dataclass(frozen=True)
class BenchConfig:
    """Benchmark options."""

    corpus_dir: Path = REPO.parent / "shared" / "data" / "maccrobat"
    split: str = "test"
    model: Path = REPO / "ctakes_llm" / "models" / "default"
    dtype: str = "auto"
    runtime: str = "auto"
    threads: int = 2
    systems: tuple[str, ...] = SYSTEMS
    bootstrap: int = 1000
    results_dir: Path = REPO / "benchmarks" / "results"


def predict_student(
    config: BenchConfig, docs: Sequence[GoldDocument]
) -> tuple[dict[str, list[Mention]], dict[str, object]]:
    """Mentions of the token-classifier student, per document id, and what ran: the backend's model, weights hash,
    runtime and dtype as ``auto`` resolved them."""
    from ctakes_llm.backends.token_classifier import TokenClassifierConfig, load

    options = TokenClassifierConfig(dtype=config.dtype, runtime=config.runtime, num_threads=config.threads)  # type: ignore[arg-type]
    backend = load(str(config.model), options)
    predicted = backend.predict([doc.text for doc in docs])
    described = backend.describe()
    ran = {
        key: described[key]
        for key in ("model", "weights_sha256", "runtime", "dtype", "int8_calibration")
        if key in described
    }
    return {doc.doc_id: mentions for doc, mentions in zip(docs, predicted, strict=True)}, ran


def dictionary_rows(train_docs: Sequence[GoldDocument]) -> list[str]:
    """BSV rows ``CUI|TUI|text``, one per distinct lower-cased gold term of ``train_docs``, majority class."""
    votes: dict[str, Counter[MentionClass]] = defaultdict(Counter)
    surface: dict[str, str] = {}
    for doc in train_docs:
        for mention in doc.mentions:
            key = " ".join(mention.text.lower().split())
            votes[key][mention.cls] += 1
            surface.setdefault(key, " ".join(mention.text.split()))
    rows = []
    for index, key in enumerate(sorted(votes), start=1):
        cls = votes[key].most_common(1)[0][0]
        rows.append(f"D{index:07d}|{CLASS_TUI[cls]}|{surface[key]}")
    return rows


def predict_dictionary(config: BenchConfig, docs: Sequence[GoldDocument]) -> dict[str, list[Mention]]:
    """Mentions of the BSV dictionary annotator with a dictionary built from the train split."""
    from ctakes_llm.annotators.dictionary import DictionaryAnnotator, DictionaryConfig

    train = read_brat_corpus(
        config.corpus_dir / "brat", load_label_map("maccrobat"), read_split(config.corpus_dir, "train")
    )
    with tempfile.TemporaryDirectory() as folder:
        bsv = Path(folder) / "maccrobat_train.bsv"
        atomic_write(bsv, "\n".join(dictionary_rows(train)) + "\n")
        annotator = DictionaryAnnotator(DictionaryConfig(path=bsv))
        return {doc.doc_id: list(annotator.find_mentions(doc.text)) for doc in docs}


def main(config: BenchConfig) -> list[dict[str, object]]:
    """Score each system, print its table and append one JSON line per system to ``quality.jsonl``."""
    ids = read_split(config.corpus_dir, config.split)
    docs = read_brat_corpus(config.corpus_dir / "brat", load_label_map("maccrobat"), ids)
    gold = {doc.doc_id: list(doc.mentions) for doc in docs}
    records = []
    for system in config.systems:
        start = time.perf_counter()
        ran: dict[str, object] = {}
        if system == "student":
            predicted, ran = predict_student(config, docs)
        else:
            predicted = predict_dictionary(config, docs)
        seconds = time.perf_counter() - start
        scores = score_corpus(gold, predicted, classes=tuple(MentionClass), bootstrap=config.bootstrap)
        print(f"\n== {system} on MACCROBAT {config.split} ({len(docs)} documents, {seconds:.1f}s) ==")
        print(scores.format_table())
        record = _record(config, {"system": system, **ran}, scores.to_dict(), seconds)
        append_result("quality", record, config.results_dir)
        records.append(record)
    return records


def _record(
    config: BenchConfig, identity: dict[str, object], numbers: dict[str, object], seconds: float
) -> dict[str, object]:
    """One JSON line: what ran (the system's name, and for the student its model and runtime), the config, scores."""
    return {
        **identity,
        "dataset": "maccrobat",
        "split": config.split,
        "config": config_record(config),
        "seconds": round(seconds, 2),
        "scores": numbers,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"])
    parser.add_argument("--corpus-dir", type=Path, default=BenchConfig.corpus_dir)
    parser.add_argument("--model", type=Path, default=BenchConfig.model)
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "int8"])
    parser.add_argument("--runtime", default=BenchConfig.runtime, choices=["auto", "torch", "openvino"])
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: student,dictionary")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--results-dir", type=Path, default=BenchConfig.results_dir)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    main(
        BenchConfig(
            corpus_dir=args.corpus_dir,
            split=args.split,
            model=args.model,
            dtype=args.dtype,
            runtime=args.runtime,
            systems=tuple(s for s in args.systems.split(",") if s),
            bootstrap=args.bootstrap,
            results_dir=args.results_dir,
        )
    )
