"""ONNX Runtime as a CPU speed lever for the token-classifier student: speed on the ACI-bench notes and strict and
lenient F1 on the MACCROBAT test split, next to the backend's torch paths.

Every ORT variant runs inside the real backend: ``TokenClassifierBackend`` tokenizes, cuts the windows, batches
them (sorted by length, ``--batch-size`` windows a batch) and decodes (Viterbi, word snapping, trimming) exactly
as it always does; only its forward pass is swapped for an ONNX Runtime session (:class:`OrtForward`). So the
time is bench_speed's "model alone" (``predict`` over all notes) and the F1 is bench_quality's, through the same
code. Variants:

- ``fp32``: the exported float32 graph, ORT graph optimizations all on.
- ``fp32-fused``: after onnxruntime.transformers' BERT optimizer (fused attention, embedding layer norm, skip
  layer norms, bias GELU).
- ``int8`` / ``int8-pc``: dynamic quantization (int8 weights, activations quantized per batch) of the fused
  graph, with one scale per weight tensor / per output channel.
- ``qdq``: static int8 (QDQ) of the matrix products of the unfused graph, activation ranges (MinMax) calibrated
  on windows of the MACCROBAT *train* split.

The backend's own torch paths always run too (``torch-bf16``, ``torch-fp32``, ``torch-int8``), and ``no-model``:
``predict`` with all-zero logits, the time that tokenizing, windowing and decoding take without any model. Each
timing round runs every variant once, in an order rotated from round to round, so each ORT time has a bf16 time
measured beside it; the speed relative to bf16 is the median of the per-round ratios. The ONNX files go to
``--work-dir`` (default: a temporary folder). Each variant appends one JSON line to
``benchmarks/results/onnx.jsonl``.

Example: python benchmarks/bench_onnx.py --repeats 3 --variants fp32,int8
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

logger = logging.getLogger("bench_onnx")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
#: predict with all-zero logits in place of the model: the cost of tokenizing, windowing and decoding alone.
FLOOR = "no-model"
VARIANTS = ("fp32", "fp32-fused", "int8", "int8-pc", "qdq")
INPUT_NAMES = ("input_ids", "attention_mask")
#: ONNX opset of the export; 17 has LayerNormalization, which the BERT fusions expect.
OPSET = 17

Predict = Callable[[Sequence[str]], list[Any]]


@dataclass(frozen=True)
class OnnxBenchConfig:
    """What to measure.

    Attributes:
        model: The student's directory.
        variants: ORT variants to measure (see the module docstring); the torch baselines always run.
        repeats: Timed passes over the ACI-bench notes per variant.
        threads: torch threads and ORT intra-op threads.
        batch_size: Windows per forward pass (the backend's default).
        aci_dir: ACI-bench ``challenge_data`` CSVs (column ``note``), for speed.
        corpus_dir: MACCROBAT (brat files and split), test split for F1, train split for QDQ calibration.
        calibration_windows: Train windows that calibrate the ``qdq`` variant.
        check_batches: Batches of ACI-bench windows on which logits are compared with torch float32.
        work_dir: Where the ONNX files go; None means a temporary folder removed at the end.
        limit: Use only the first N ACI-bench notes (for a quick look).
        results_dir: Folder of ``onnx.jsonl``.
    """

    model: Path = REPO / "ctakes_llm" / "models" / "default"
    variants: tuple[str, ...] = VARIANTS
    repeats: int = 3
    threads: int = 2
    batch_size: int = 8
    aci_dir: Path = DATA / "aci_bench" / "challenge_data"
    corpus_dir: Path = DATA / "maccrobat"
    calibration_windows: int = 128
    check_batches: int = 16
    work_dir: Path | None = None
    limit: int | None = None
    results_dir: Path = REPO / "benchmarks" / "results"


class _LogitsOnly(torch.nn.Module):
    """The token classifier with positional inputs and the logits tensor as its only output, as the exporter wants."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits  # type: ignore[no-any-return]


def export_onnx(model_dir: Path, path: Path) -> Path:
    """Export the token classifier in float32 with dynamic batch and sequence axes.

    The TorchScript exporter (``dynamo=False``) with eager attention is used because onnxruntime's BERT optimizer
    recognizes the attention it writes; from the dynamo exporter, or with SDPA attention, it fuses no attention.
    The trace sees one input shape; the exported graph holds for any.
    """
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager", local_files_only=True
    )
    wrapper = _LogitsOnly(model).eval()
    sample = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with torch.inference_mode():
        torch.onnx.export(
            wrapper,
            (sample, torch.ones_like(sample)),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=["logits"],
            dynamic_axes={name: axes for name in (*INPUT_NAMES, "logits")},
            opset_version=OPSET,
            dynamo=False,
        )
    return path


def fuse_bert(source: Path, target: Path, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Run onnxruntime.transformers' BERT fusions; return the count of each fused operator it made."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(str(source), model_type="bert", num_heads=num_heads, hidden_size=hidden_size)
    optimized.save_model_to_file(str(target))
    return {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}


def quantize_dynamic_int8(source: Path, target: Path, *, per_channel: bool) -> Path:
    """int8 weights, activations quantized on the fly per batch."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The fused operators (Attention, SkipLayerNormalization) are outside ONNX shape inference; without a
    # default type the quantizer cannot type their outputs and stops.
    quantize_dynamic(
        source,
        target,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return target


def quantize_static_qdq(source: Path, target: Path, batches: Sequence[dict[str, np.ndarray]]) -> Path:
    """Static int8 (QDQ) of the matrix products, activation ranges from ``batches`` (MinMax), per-channel weights.

    Only MatMul is quantized: quantizing every operator (adds, layer norms, softmax too) was no faster and broke
    the student (strict F1 0.0 on MACCROBAT test). The unfused graph is used because fused Attention takes no QDQ
    activations (the quantizer quantizes its weights only, and ORT then runs weight-only int8 matmuls in float).
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._batches, None)

    prepared = target.with_name(target.stem + "_prepared.onnx")
    # Symbolic shape inference fails on the exported position-id slice (Min(512, sequence)); ONNX's own suffices.
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        prepared,
        target,
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
    )
    return target


def ort_session(path: Path, threads: int) -> Any:
    """A CPU session with all graph optimizations, ``threads`` intra-op threads and sequential execution."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OrtForward:
    """Stands in for the torch model inside ``TokenClassifierBackend``: called with the same keyword tensors, it
    returns an object whose ``logits`` is a float32 tensor, so the backend's windows and decoding stay as they are."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def __call__(self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        feeds = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()}
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(["logits"], feeds)[0]))


class ZeroForward:
    """Stands in for the model with all-zero logits, so that ``predict`` costs what the backend does around it."""

    def __init__(self, num_labels: int) -> None:
        self.num_labels = num_labels

    def __call__(self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=torch.zeros((*input_ids.shape, self.num_labels)))


@contextlib.contextmanager
def forward_swapped(backend: Any, forward: Any) -> Iterator[None]:
    """Run ``backend`` with ``forward`` in place of its torch model (the backend calls ``_model`` for logits)."""
    model = backend._model
    backend._model = forward
    try:
        yield
    finally:
        backend._model = model


def spread_batches(batches: Sequence[dict[str, np.ndarray]], count: int) -> list[dict[str, np.ndarray]]:
    """``count`` batches spread evenly over ``batches`` (which the backend sorts by length): short and long ones."""
    if count >= len(batches):
        return list(batches)
    return [batches[round(index * (len(batches) - 1) / max(count - 1, 1))] for index in range(count)]


def logit_agreement(model: torch.nn.Module, session: Any, batches: Sequence[dict[str, np.ndarray]]) -> dict[str, float]:
    """Max absolute logit difference and argmax agreement of ``session`` against ``model``, over real wordpieces."""
    largest, agree, total = 0.0, 0, 0
    with torch.inference_mode():
        for batch in batches:
            expected = model(**{name: torch.from_numpy(array) for name, array in batch.items()}).logits.float().numpy()
            found = session.run(["logits"], batch)[0]
            real = batch["attention_mask"].astype(bool)
            largest = max(largest, float(np.abs(found - expected)[real].max()))
            agree += int((found.argmax(-1) == expected.argmax(-1))[real].sum())
            total += int(real.sum())
    return {"max_abs_logit_diff": largest, "argmax_agreement": agree / total}


def time_rounds(predictors: dict[str, Predict], notes: Sequence[str], repeats: int) -> dict[str, list[float]]:
    """Seconds per pass over ``notes`` for each predictor, after one warm-up each; rounds rotate the order."""
    for predict in predictors.values():
        predict(notes[:8])
    names = list(predictors)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            predictors[name](notes)
            seconds[name].append(time.perf_counter() - started)
    return seconds


def _build_variants(
    config: OnnxBenchConfig, work: Path, backend: Any, calibration: Sequence[dict[str, np.ndarray]]
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Export and convert; return each requested variant's ONNX file and what its build did."""
    model_config = backend._model.config
    plain = export_onnx(config.model, work / "model.onnx")
    files: dict[str, tuple[Path, dict[str, Any]]] = {"fp32": (plain, {})}
    if {"fp32-fused", "int8", "int8-pc"} & set(config.variants):
        fused = work / "model_fused.onnx"
        fused_ops = fuse_bert(plain, fused, model_config.num_attention_heads, model_config.hidden_size)
        files["fp32-fused"] = (fused, {"fused_ops": fused_ops})
        for name, per_channel in (("int8", False), ("int8-pc", True)):
            if name in config.variants:
                target = work / f"model_{name.replace('-', '_')}.onnx"
                files[name] = (quantize_dynamic_int8(fused, target, per_channel=per_channel), {})
    if "qdq" in config.variants:
        started = time.perf_counter()
        target = quantize_static_qdq(plain, work / "model_qdq.onnx", calibration)
        details = {"calibration_windows": sum(len(b["input_ids"]) for b in calibration)}
        files["qdq"] = (target, details | {"calibration_s": round(time.perf_counter() - started, 1)})
    return {name: files[name] for name in config.variants}


def run(config: OnnxBenchConfig) -> list[dict[str, Any]]:
    """Build the variants, check their logits, score and time them with the baselines; append and return one
    record per variant (baselines included)."""
    from bench_speed import load_notes
    from results_log import append_result, config_record, spread

    from ctakes_llm.backends.model_source import weights_sha256
    from ctakes_llm.backends.token_classifier import Dtype, TokenClassifierBackend, TokenClassifierConfig
    from ctakes_llm.corpora.brat import read_brat_corpus
    from ctakes_llm.corpora.label_map import load_label_map
    from ctakes_llm.corpora.splits import read_split
    from ctakes_llm.evaluation.metrics import score_corpus
    from ctakes_llm.ner.mention import MentionClass

    unknown = sorted(set(config.variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    notes = load_notes(config.aci_dir, config.limit)
    chars = sum(len(note) for note in notes)
    labels = load_label_map("maccrobat")
    test_docs = read_brat_corpus(config.corpus_dir / "brat", labels, read_split(config.corpus_dir, "test"))
    gold = {doc.doc_id: list(doc.mentions) for doc in test_docs}

    def backend(dtype: Dtype) -> Any:
        options = TokenClassifierConfig(
            model=str(config.model),
            dtype=dtype,
            batch_size=config.batch_size,
            num_threads=config.threads,
            device="cpu",
            runtime="torch",  # the torch paths are the baselines
        )
        return TokenClassifierBackend(options)

    fp32 = backend("float32")
    torch_fp32 = fp32._model
    predictors: dict[str, Predict] = {
        "torch-bf16": backend("bfloat16").predict,
        "torch-fp32": fp32.predict,
        "torch-int8": backend("int8").predict,
        FLOOR: swapped_predict(fp32, ZeroForward(len(fp32._tags))),
    }
    details: dict[str, dict[str, Any]] = {name: {} for name in predictors}
    check = spread_batches(fp32.model_inputs(notes), config.check_batches)
    calibration: list[dict[str, np.ndarray]] = []
    if "qdq" in config.variants:
        train_docs = read_brat_corpus(config.corpus_dir / "brat", labels, read_split(config.corpus_dir, "train"))
        train_batches = fp32.model_inputs([doc.text for doc in train_docs])
        calibration = spread_batches(train_batches, -(-config.calibration_windows // config.batch_size))

    with contextlib.ExitStack() as stack:
        work = config.work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_onnx_")))
        work.mkdir(parents=True, exist_ok=True)
        for name, (path, built) in _build_variants(config, work, fp32, calibration).items():
            session = ort_session(path, config.threads)
            forward = OrtForward(session)
            details[name] = built | logit_agreement(torch_fp32, session, check) | {"onnx_mib": _mib(path)}
            predictors[name] = swapped_predict(fp32, forward)
            logger.info("%s: %s", name, details[name])

        scores = {}
        for name, predict in predictors.items():
            if name == FLOOR:
                continue
            predicted = predict([doc.text for doc in test_docs])
            scored = score_corpus(
                gold, dict(zip(gold, predicted, strict=True)), classes=tuple(MentionClass), bootstrap=0
            )
            scores[name] = {mode: scored.micro(mode).to_dict() for mode in ("strict", "lenient")}

        load_before = os.getloadavg()[0]
        seconds = time_rounds(predictors, notes, config.repeats)
        load_after = os.getloadavg()[0]

    ms_per_1k = {name: [s * 1e6 / chars for s in values] for name, values in seconds.items()}
    base = {
        "model": str(config.model),
        "weights_sha256": weights_sha256(str(config.model)),
        "versions_extra": {"onnxruntime": _version("onnxruntime"), "onnx": _version("onnx")},
        "speed_dataset": f"aci_bench challenge_data ({len(notes)} notes, {chars} chars)",
        "quality_dataset": "maccrobat test",
        "config": config_record(config),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    records = []
    for name in predictors:
        relative = [b / v for b, v in zip(ms_per_1k["torch-bf16"], ms_per_1k[name], strict=True)]
        numbers = {
            "ms_per_1k_chars": spread(ms_per_1k[name]),
            "speedup_vs_torch_bf16": spread(relative),
            "ms_per_1k_chars_by_round": [round(value, 2) for value in ms_per_1k[name]],
        }
        record = base | {"variant": name} | numbers | {"scores": scores.get(name)} | details[name]
        append_result("onnx", record, config.results_dir)
        records.append(record)
    print(format_table(records))
    return records


def swapped_predict(backend: Any, forward: Any) -> Predict:
    """``backend.predict`` with ``forward`` in place of its model: the real windows, batching and decoding around it."""

    def predict(texts: Sequence[str]) -> list[Any]:
        with forward_swapped(backend, forward):
            return backend.predict(texts)  # type: ignore[no-any-return]

    return predict


def format_table(records: Sequence[dict[str, Any]]) -> str:
    """One row per variant: ms per 1,000 characters, speed-up over torch bf16 (above 1 is faster), micro F1, and
    the logit check against torch float32; blank where it does not apply."""
    header = (
        f"{'variant':<12} {'ms/1k med':>9} {'min':>7} {'max':>7} {'speedup':>7} "
        f"{'strict F1':>9} {'lenient F1':>10} {'max|dlogit|':>11} {'argmax=':>8}"
    )
    rows = [header, "-" * len(header)]
    for record in records:
        ms, speedup = record["ms_per_1k_chars"], record["speedup_vs_torch_bf16"]
        scores, diff, agree = record["scores"], record.get("max_abs_logit_diff"), record.get("argmax_agreement")
        strict, lenient = (
            ("", "") if scores is None else (f"{scores['strict']['f1']:.4f}", f"{scores['lenient']['f1']:.4f}")
        )
        rows.append(
            f"{record['variant']:<12} {ms['median']:>9.1f} {ms['min']:>7.1f} {ms['max']:>7.1f} "
            f"{speedup['median']:>7.2f} {strict:>9} {lenient:>10} "
            f"{'' if diff is None else f'{diff:.2e}':>11} {'' if agree is None else f'{agree:.4f}':>8}"
        )
    return "\n".join(rows)


def _mib(path: Path) -> float:
    return round(path.stat().st_size / 2**20, 1)


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=OnnxBenchConfig.model)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {','.join(VARIANTS)}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--calibration-windows", type=int, default=OnnxBenchConfig.calibration_windows)
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the ONNX files here (default: temporary)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N ACI-bench notes")
    parser.add_argument("--aci-dir", type=Path, default=OnnxBenchConfig.aci_dir)
    parser.add_argument("--corpus-dir", type=Path, default=OnnxBenchConfig.corpus_dir)
    parser.add_argument("--results-dir", type=Path, default=OnnxBenchConfig.results_dir)
    args = parser.parse_args(argv)
    # The quantizers log every tensor at INFO on the root logger; only this script's INFO lines are wanted.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    logger.setLevel(logging.INFO)
    run(
        OnnxBenchConfig(
            model=args.model,
            variants=tuple(name for name in args.variants.split(",") if name),
            repeats=args.repeats,
            threads=args.threads,
            batch_size=args.batch_size,
            aci_dir=args.aci_dir,
            corpus_dir=args.corpus_dir,
            calibration_windows=args.calibration_windows,
            work_dir=args.work_dir,
            limit=args.limit,
            results_dir=args.results_dir,
        )
    )


if __name__ == "__main__":
    main()
