"""``torch.compile`` (inductor) as a CPU speed lever for the student, inside the real backend on the ACI-bench notes.

The compiled model replaces the backend's eager bf16 model for ``predict`` (same windows, batching and decoding, as
in ``bench_onnx.py``), so batches keep the shapes real notes give them; ``--dynamic`` compiles one graph for all
shapes, otherwise inductor recompiles per new shape. Eager and compiled passes alternate round by round; the
speed-up is the median of the per-round ratios. The first compiled pass, which compiles, is timed apart. One JSON
line goes to ``benchmarks/results/compile.jsonl``.

Example: python benchmarks/bench_compile.py --freeze --dynamic --repeats 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from bench_onnx import swapped_predict, time_rounds
from bench_speed import ACI_DIR, load_notes
from results_log import append_result, spread

from ctakes_llm.backends.token_classifier import TokenClassifierBackend, TokenClassifierConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped student)")
    parser.add_argument("--aci-dir", type=Path, default=ACI_DIR)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--freeze", action="store_true", help="inductor weight freezing (constant folding, prepacking)")
    parser.add_argument("--dynamic", action="store_true", help="one graph for all batch shapes")
    args = parser.parse_args()

    import torch._inductor.config as inductor_config

    inductor_config.freezing = args.freeze
    notes = load_notes(args.aci_dir, None)
    chars = sum(len(note) for note in notes)
    options = TokenClassifierConfig(
        model=None if args.model is None else str(args.model),
        dtype="bfloat16",
        num_threads=args.threads,
        device="cpu",
        runtime="torch",  # torch.compile needs the torch model
    )
    backend = TokenClassifierBackend(options)
    compiled = swapped_predict(backend, torch.compile(backend._model, dynamic=args.dynamic))
    started = time.perf_counter()
    compiled(notes)
    first_pass_s = time.perf_counter() - started
    sample = notes[:40]
    eager_spans = [(m.cls, m.begin, m.end) for mentions in backend.predict(sample) for m in mentions]
    compiled_spans = [(m.cls, m.begin, m.end) for mentions in compiled(sample) for m in mentions]
    seconds = time_rounds({"eager": backend.predict, "compiled": compiled}, notes, args.repeats)
    ms = {name: [s * 1e6 / chars for s in values] for name, values in seconds.items()}
    ratios = [e / c for e, c in zip(ms["eager"], ms["compiled"], strict=True)]
    record = {
        "freeze": args.freeze,
        "dynamic": args.dynamic,
        "dataset": f"aci_bench challenge_data ({len(notes)} notes, {chars} chars)",
        "first_compiled_pass_s": round(first_pass_s, 1),
        "eager_ms_per_1k_chars": spread(ms["eager"]),
        "compiled_ms_per_1k_chars": spread(ms["compiled"]),
        "speedup": spread(ratios),
        "mentions_on_40_notes": {
            "eager": len(eager_spans),
            "compiled": len(compiled_spans),
            "shared": len(set(eager_spans) & set(compiled_spans)),
        },
    }
    append_result("compile", record)
    print(record)


if __name__ == "__main__":
    main()
