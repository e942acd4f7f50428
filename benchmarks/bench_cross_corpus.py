"""Out-of-corpus check: the student's disease and medication mentions on the NCBI-disease and BC5CDR test splits.

Why: MACCROBAT test has 20 documents in one annotation style, and the student is meant for text it was not trained
on. These PubMed abstracts were never trained on by the shipped student. They annotate only some classes (NCBI:
diseases; BC5CDR: diseases and chemicals), so only those are scored: ``DiseaseDisorder`` and, for BC5CDR,
``Medication``. Their "Disease" also covers what cTAKES calls a sign or symptom ("pain", "hypotension"), so the
student's ``SignSymptom`` mentions count as ``DiseaseDisorder`` here. Their guidelines differ from MACCROBAT's
("breast cancer" is one disease there; MACCROBAT and the student split off the anatomy), so strict scores
understate agreement: read lenient F1 and compare models with each other, not with MACCROBAT numbers.

One JSON line per corpus is appended to ``benchmarks/results/cross_corpus.jsonl``.

Example::

    python benchmarks/bench_cross_corpus.py                       # the shipped student
    python benchmarks/bench_cross_corpus.py --model runs/x/best --bootstrap 0
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from results_log import append_result, config_record

from ctakes_llm.evaluation.metrics import score_corpus
from ctakes_llm.ner.mention import MentionClass
from ctakes_llm.training.data import load_corpus

REPO = Path(__file__).resolve().parents[1]
SCORED_CLASSES = {
    "ncbi_disease": (MentionClass.DISEASE_DISORDER,),
    "bc5cdr": (MentionClass.MEDICATION, MentionClass.DISEASE_DISORDER),
}
SYMPTOMS_AS_DISEASES = {MentionClass.SIGN_SYMPTOM: MentionClass.DISEASE_DISORDER}


@dataclass(frozen=True)
class BenchConfig:
    """Benchmark options."""

    data_dir: Path = REPO.parent / "shared" / "data"
    model: Path = REPO / "ctakes_llm" / "models" / "default"
    dtype: str = "auto"
    runtime: str = "torch"
    threads: int = 2
    bootstrap: int = 1000
    results_dir: Path = REPO / "benchmarks" / "results"


def main(config: BenchConfig) -> list[dict[str, object]]:
    """Score the student on each corpus's test split, print the tables and append one JSON line per corpus."""
    from ctakes_llm.backends.model_source import weights_sha256
    from ctakes_llm.backends.token_classifier import TokenClassifierConfig, load

    options = TokenClassifierConfig(dtype=config.dtype, runtime=config.runtime, num_threads=config.threads)  # type: ignore[arg-type]
    backend = load(str(config.model), options)
    weights_key = weights_sha256(str(config.model))
    records = []
    for corpus, classes in SCORED_CLASSES.items():
        docs, _ = load_corpus(config.data_dir, corpus, "test")
        start = time.perf_counter()
        predicted = backend.predict([doc.text for doc in docs])
        seconds = time.perf_counter() - start
        scores = score_corpus(
            {doc.doc_id: list(doc.mentions) for doc in docs},
            {doc.doc_id: mentions for doc, mentions in zip(docs, predicted, strict=True)},
            classes=classes,
            merge=SYMPTOMS_AS_DISEASES,
            bootstrap=config.bootstrap,
        )
        print(f"\n== student on {corpus} test ({len(docs)} documents, {seconds:.1f}s) ==")
        print(scores.format_table())
        record = {
            "model": str(config.model),
            "weights_sha256": weights_key,
            "dataset": corpus,
            "split": "test",
            "config": config_record(config),
            "seconds": round(seconds, 2),
            "scores": scores.to_dict(),
        }
        append_result("cross_corpus", record, config.results_dir)
        records.append(record)
    return records


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=BenchConfig.data_dir)
    parser.add_argument("--model", type=Path, default=BenchConfig.model)
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "int8"])
    parser.add_argument("--runtime", default="torch", choices=["auto", "torch", "openvino"])
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--results-dir", type=Path, default=BenchConfig.results_dir)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    main(
        BenchConfig(
            data_dir=args.data_dir,
            model=args.model,
            dtype=args.dtype,
            runtime=args.runtime,
            bootstrap=args.bootstrap,
            results_dir=args.results_dir,
        )
    )
