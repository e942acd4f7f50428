"""OpenVINO int8 as a CPU speed lever: NNCF post-training quantization of the student, against OpenVINO bf16.

Why: torch's and ONNX Runtime's int8 paths each cost the student 2 or more points of strict F1. NNCF's transformer
preset (SmoothQuant, fast bias correction, sensitive operations left in floating point) may not. This script
measures that before the package takes on NNCF or a calibration set.

The OpenVINO model is the one the token backend caches (``runtime='openvino'``). Calibration uses ``--calibration-
batches`` of the backend's own input batches, spread over its length-sorted batches, of MACCROBAT **train**
documents or, with ``--calibration-text``, of a text file's blank-line-separated paragraphs
(``benchmarks/data/calibration_notes.txt``: twelve short notes this team wrote, no corpus text). Both variants
run inside the real backend (windows, Viterbi decoding, word snapping) with only the forward pass swapped, as in
``bench_onnx.py``. F1 is scored on MACCROBAT test. Model-alone speed is timed on the ACI-bench notes, in rounds
that alternate the variants. One JSON line per variant goes to ``benchmarks/results/openvino_int8.jsonl``.

Needs ``pip install 'ctakes-llm[bench-openvino]'`` (nncf).

Example: python benchmarks/bench_openvino_int8.py --calibration-text benchmarks/data/calibration_notes.txt
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_onnx import backend_batches, spread_batches, swapped_predict, time_rounds
from bench_speed import load_notes
from results_log import append_result, config_record, spread

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


@dataclass(frozen=True)
class Int8BenchConfig:
    """What to measure."""

    model: Path = REPO / "ctakes_llm" / "models" / "default"
    calibration_batches: int = 4
    calibration_text: Path | None = None
    repeats: int = 3
    threads: int = 2
    aci_dir: Path = DATA / "aci_bench" / "challenge_data"
    corpus_dir: Path = DATA / "maccrobat"
    results_dir: Path = REPO / "benchmarks" / "results"


def quantize(
    config: Int8BenchConfig, torch_backend: Any, weights_key: str, calibration_texts: list[str]
) -> tuple[Any, float]:
    """The backend's cached OpenVINO model, int8-quantized by NNCF on the backend's batches of the given texts."""
    import nncf

    from ctakes_llm.backends.openvino_runtime import converted_model

    batches = backend_batches(torch_backend, calibration_texts)
    calibration = spread_batches(batches, config.calibration_batches)
    model = converted_model(torch_backend._model, weights_key)
    started = time.perf_counter()
    quantized = nncf.quantize(
        model,
        nncf.Dataset(calibration),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=sum(len(batch["input_ids"]) for batch in calibration),
    )
    return quantized, time.perf_counter() - started


def run(config: Int8BenchConfig) -> list[dict[str, Any]]:
    """Quantize, score and time; append and return one record per variant."""
    import openvino

    from ctakes_llm.backends.model_source import weights_sha256
    from ctakes_llm.backends.openvino_runtime import OpenVinoForward, cpu_properties
    from ctakes_llm.backends.token_classifier import Dtype, Runtime, TokenClassifierBackend, TokenClassifierConfig
    from ctakes_llm.corpora.brat import read_brat_corpus
    from ctakes_llm.corpora.label_map import load_label_map
    from ctakes_llm.corpora.splits import read_split
    from ctakes_llm.evaluation.metrics import score_corpus
    from ctakes_llm.ner.mention import MentionClass

    def backend(dtype: Dtype, runtime: Runtime) -> Any:
        options = TokenClassifierConfig(
            model=str(config.model), dtype=dtype, runtime=runtime, num_threads=config.threads, device="cpu"
        )
        return TokenClassifierBackend(options)

    labels = load_label_map("maccrobat")
    test = read_brat_corpus(config.corpus_dir / "brat", labels, read_split(config.corpus_dir, "test"))
    if config.calibration_text is None:
        train = read_brat_corpus(config.corpus_dir / "brat", labels, read_split(config.corpus_dir, "train"))
        calibration = [doc.text for doc in train]
    else:
        calibration = [p for p in config.calibration_text.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    weights_key = weights_sha256(str(config.model))
    torch_fp32 = backend("float32", "torch")
    quantized, quantize_s = quantize(config, torch_fp32, weights_key, calibration)
    # int8 where NNCF quantized, the backend's bf16 elsewhere
    compiled = openvino.Core().compile_model(quantized, "CPU", cpu_properties("bfloat16", config.threads))
    predictors = {
        "openvino-bf16": backend("bfloat16", "openvino").predict,
        "openvino-int8": swapped_predict(torch_fp32, OpenVinoForward(compiled, torch_fp32._model.config)),
    }
    gold = {doc.doc_id: list(doc.mentions) for doc in test}
    scores = {}
    for name, predict in predictors.items():
        predicted = dict(zip(gold, predict([doc.text for doc in test]), strict=True))
        scored = score_corpus(gold, predicted, classes=tuple(MentionClass), bootstrap=0)
        scores[name] = {mode: scored.micro(mode).to_dict() for mode in ("strict", "lenient")}
    notes = load_notes(config.aci_dir, None)
    chars = sum(len(note) for note in notes)
    seconds = time_rounds(predictors, notes, config.repeats)
    records = []
    for name in predictors:
        record = {
            "model": str(config.model),
            "weights_sha256": weights_key,
            "variant": name,
            "config": config_record(config),
            "quantize_s": round(quantize_s, 1) if name == "openvino-int8" else None,
            "ms_per_1k_chars": spread([s * 1e6 / chars for s in seconds[name]]),
            "scores": scores[name],
        }
        append_result("openvino_int8", record, config.results_dir)
        records.append(record)
        strict, lenient = scores[name]["strict"]["f1"], scores[name]["lenient"]["f1"]
        print(
            f"{name}: test strict F1 {strict:.4f}, lenient {lenient:.4f}; "
            f"model {record['ms_per_1k_chars']['median']:.1f} ms per 1,000 characters"
        )
    return records


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Int8BenchConfig.model)
    parser.add_argument("--calibration-batches", type=int, default=Int8BenchConfig.calibration_batches)
    parser.add_argument("--calibration-text", type=Path, default=None, help="paragraphs to calibrate on")
    parser.add_argument("--repeats", type=int, default=Int8BenchConfig.repeats)
    parser.add_argument("--threads", type=int, default=Int8BenchConfig.threads)
    parser.add_argument("--results-dir", type=Path, default=Int8BenchConfig.results_dir)
    args = parser.parse_args()
    run(
        Int8BenchConfig(
            model=args.model,
            calibration_batches=args.calibration_batches,
            calibration_text=args.calibration_text,
            repeats=args.repeats,
            threads=args.threads,
            results_dir=args.results_dir,
        )
    )
