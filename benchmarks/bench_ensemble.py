"""Strict and lenient micro-F1 of one tagger or an ensemble (mean label distribution) on a MACCROBAT split.

This scores distillation teachers: it uses the training-side predictor (``ctakes_llm.training.predict``:
sentence-packed windows, Viterbi), not the shipped inference backend that ``bench_quality.py`` measures, so its
numbers for one model can differ from bench_quality's by window placement.

Example: python benchmarks/bench_ensemble.py runs/seed13/best runs/seed14/best --split dev
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from results_log import append_result

from ctakes_llm.training.data import load_corpus
from ctakes_llm.training.distill import load_teachers
from ctakes_llm.training.predict import dev_f1, predict_spans

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="trained tagger folders (one or more)")
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--max-wordpieces", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(str(args.models[0]))
    models = load_teachers(args.models, tokenizer)
    docs, _ = load_corpus(args.data_dir, "maccrobat", args.split)
    started = time.monotonic()
    strict, lenient = dev_f1(docs, predict_spans(models, tokenizer, [d.text for d in docs], args.max_wordpieces))
    print(f"{len(models)} model(s) on maccrobat {args.split}: strict micro-F1 {strict:.4f}, lenient {lenient:.4f}")
    append_result(
        "ensemble",
        {
            "models": [str(path) for path in args.models],
            "dataset": "maccrobat",
            "split": args.split,
            "predictor": "training.predict (sentence-packed windows, Viterbi)",
            "seconds": round(time.monotonic() - started, 2),
            "strict_micro_f1": round(strict, 4),
            "lenient_micro_f1": round(lenient, 4),
        },
    )


if __name__ == "__main__":
    main()
