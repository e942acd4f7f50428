"""OpenVINO int8 (the default CPU path) against OpenVINO bf16 and torch bf16: F1 and model-alone speed.

Why: ``dtype='auto'`` on the CPU is int8 on OpenVINO, NNCF's post-training quantization calibrated on the notes
shipped beside ``ctakes_llm/backends/openvino_runtime.py``. This script checks, on one machine and in one run, what
that choice costs in F1 and gains in speed against the floating-point paths it replaced. Each variant is the real
backend (windows, Viterbi decoding, word snapping) built from its config. F1 is scored on MACCROBAT test.
Model-alone speed is timed on the ACI-bench notes in rounds that alternate the variants; a ``floor`` variant
(all-zero logits instead of the model) shows what the backend costs around the model. One JSON line per variant
goes to ``benchmarks/results/openvino_int8.jsonl``.

Example: python benchmarks/bench_openvino_int8.py --repeats 3
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_onnx import ZeroForward, swapped_predict, time_rounds
from bench_speed import load_notes
from results_log import append_result, config_record, spread

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
#: Variant name: (dtype, runtime).
VARIANTS = {
    "torch-bf16": ("bfloat16", "torch"),
    "openvino-bf16": ("bfloat16", "openvino"),
    "openvino-int8": ("int8", "openvino"),
}
FLOOR = "floor"


@dataclass(frozen=True)
class Int8BenchConfig:
    """What to measure."""

    model: Path = REPO / "ctakes_llm" / "models" / "default"
    repeats: int = 3
    threads: int = 2
    aci_dir: Path = DATA / "aci_bench" / "challenge_data"
    corpus_dir: Path = DATA / "maccrobat"
    results_dir: Path = REPO / "benchmarks" / "results"


def run(config: Int8BenchConfig) -> list[dict[str, Any]]:
    """Score and time each variant; append and return one record per variant."""
    from ctakes_llm.backends.token_classifier import TokenClassifierBackend, TokenClassifierConfig
    from ctakes_llm.corpora.brat import read_brat_corpus
    from ctakes_llm.corpora.label_map import load_label_map
    from ctakes_llm.corpora.splits import read_split
    from ctakes_llm.evaluation.metrics import score_corpus
    from ctakes_llm.ner.mention import MentionClass

    backends = {
        name: TokenClassifierBackend(
            TokenClassifierConfig(
                model=str(config.model), dtype=dtype, runtime=runtime, num_threads=config.threads, device="cpu"
            )
        )
        for name, (dtype, runtime) in VARIANTS.items()
    }
    predictors = {name: backend.predict for name, backend in backends.items()}
    reference = backends["torch-bf16"]
    predictors[FLOOR] = swapped_predict(reference, ZeroForward(len(reference._tags)))

    labels = load_label_map("maccrobat")
    test = read_brat_corpus(config.corpus_dir / "brat", labels, read_split(config.corpus_dir, "test"))
    gold = {doc.doc_id: list(doc.mentions) for doc in test}
    scores = {}
    for name, backend in backends.items():
        predicted = dict(zip(gold, backend.predict([doc.text for doc in test]), strict=True))
        scored = score_corpus(gold, predicted, classes=tuple(MentionClass), bootstrap=0)
        scores[name] = {mode: scored.micro(mode).to_dict() for mode in ("strict", "lenient")}
    notes = load_notes(config.aci_dir, None)
    chars = sum(len(note) for note in notes)
    seconds = time_rounds(predictors, notes, config.repeats)
    weights_key = backends["openvino-int8"].describe()["weights_sha256"]  # hashed for its cache when it was built
    records = []
    for name in predictors:
        record = {
            "model": str(config.model),
            "weights_sha256": weights_key,
            "variant": name,
            "config": config_record(config),
            "ms_per_1k_chars": spread([s * 1e6 / chars for s in seconds[name]]),
            "scores": scores.get(name),
        }
        append_result("openvino_int8", record, config.results_dir)
        records.append(record)
        quality = (
            ""
            if name == FLOOR
            else (f"test strict F1 {scores[name]['strict']['f1']:.4f}, lenient {scores[name]['lenient']['f1']:.4f}; ")
        )
        print(f"{name}: {quality}model {record['ms_per_1k_chars']['median']:.1f} ms per 1,000 characters")
    return records


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Int8BenchConfig.model)
    parser.add_argument("--repeats", type=int, default=Int8BenchConfig.repeats)
    parser.add_argument("--threads", type=int, default=Int8BenchConfig.threads)
    parser.add_argument("--results-dir", type=Path, default=Int8BenchConfig.results_dir)
    args = parser.parse_args()
    run(Int8BenchConfig(model=args.model, repeats=args.repeats, threads=args.threads, results_dir=args.results_dir))
