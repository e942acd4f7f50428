"""Train many taggers (seeds x settings) in parallel, then distil students from the best of them by dev F1.

Why: on 2 CPU cores one 10-epoch `ctakes-llm train` takes about 20 minutes, so the shipped recipe chose its teachers
from two seeds; on one GPU a run takes well under a minute, and the dev split can pick teachers from many seeds and
settings. Every run is an ordinary `ctakes-llm train` run folder under OUT/, so rerunning the same sweep resumes
each run from its checkpoint; the dev table goes to stdout and OUT/sweep.json. The test split is never scored here.

Example (one GPU, 6 runs at a time):
  python benchmarks/train_sweep.py runs/sweep --parallel 6 --variant 'base@1-8=' \
      --variant 'lr2e-4@1-3=--learning-rate 2e-4' --top-k 3,8 --common '--bf16-autocast --device cuda'
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from ctakes_llm.cas.atomic import atomic_write

TRAIN = [sys.executable, "-m", "ctakes_llm", "train"]


@dataclass(frozen=True)
class Run:
    """One `ctakes-llm train` invocation of the sweep."""

    name: str
    variant: str
    seed: int
    args: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What a finished run scored on dev (``best_dev_strict_f1`` -1 when it failed)."""

    name: str
    variant: str
    seed: int
    best_dev_strict_f1: float
    best_dev_lenient_f1: float
    best_epoch: int
    seconds: float


def parse_variant(spec: str) -> tuple[str, list[int], list[str]]:
    """``NAME@SEEDS=ARGS`` with SEEDS like ``1-8`` or ``1,4,9`` -> (name, seeds, train arguments)."""
    head, _, args = spec.partition("=")
    name, _, seeds = head.partition("@")
    if not name or not seeds:
        raise SystemExit(
            f"--variant {spec!r}: write NAME@SEEDS=ARGS, e.g. 'base@1-8=' or 'lr@1-3=--learning-rate 2e-4'"
        )
    return name, _seeds(seeds), shlex.split(args)


def _seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def run_all(runs: Sequence[Run], out: Path, common: Sequence[str], parallel: int) -> list[Outcome]:
    """Run each training in its own process, ``parallel`` at a time; logs go to ``OUT/<name>.out``."""

    def one(run: Run) -> Outcome:
        started = time.monotonic()
        command = [*TRAIN, str(out / run.name), "--seed", str(run.seed), *common, *run.args]
        with (out / f"{run.name}.out").open("w", encoding="utf-8") as log:
            finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        seconds = time.monotonic() - started
        result_file = out / run.name / "result.json"
        if finished.returncode != 0 or not result_file.is_file():
            print(f"{run.name}: failed (exit {finished.returncode}), see {out / f'{run.name}.out'}", flush=True)
            return Outcome(run.name, run.variant, run.seed, -1.0, -1.0, 0, seconds)
        result = json.loads(result_file.read_text(encoding="utf-8"))
        best = next(h for h in result["history"] if h["epoch"] == result["best_epoch"])
        outcome = Outcome(
            run.name, run.variant, run.seed, best["strict_f1"], best["lenient_f1"], result["best_epoch"], seconds
        )
        print(
            f"{run.name}: dev strict {outcome.best_dev_strict_f1:.4f} (epoch {outcome.best_epoch}, {seconds:.0f} s)",
            flush=True,
        )
        return outcome

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, runs))


def summary(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per variant: runs, mean and spread of the best dev strict F1."""
    lines = []
    for variant in dict.fromkeys(o.variant for o in outcomes):
        scores = [o.best_dev_strict_f1 for o in outcomes if o.variant == variant and o.best_dev_strict_f1 >= 0]
        if not scores:
            lines.append(f"{variant}: every run failed")
            continue
        spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
        lines.append(
            f"{variant}: {len(scores)} runs, dev strict mean {statistics.mean(scores):.4f} sd {spread:.4f} "
            f"min {min(scores):.4f} max {max(scores):.4f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="sweep folder: one run folder per training")
    parser.add_argument("--variant", action="append", default=[], help="NAME@SEEDS=ARGS (repeatable)")
    parser.add_argument("--common", default="", help="train arguments given to every run")
    parser.add_argument("--parallel", type=int, default=1, help="trainings at a time")
    parser.add_argument("--top-k", default="", help="comma-separated: distil a student from the best K teachers")
    parser.add_argument(
        "--student-args",
        default="--unlabelled-corpora aci_bench --epochs 10",
        help="train arguments of each distilled student (besides --teacher; its seed is 13)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    common = shlex.split(args.common)
    runs = [
        Run(f"{name}_s{seed}", name, seed, tuple(train_args))
        for name, seeds, train_args in map(parse_variant, args.variant or ["base@13="])
        for seed in seeds
    ]
    teachers = run_all(runs, args.out, common, args.parallel)
    ranked = sorted((o for o in teachers if o.best_dev_strict_f1 >= 0), key=lambda o: -o.best_dev_strict_f1)
    students: list[Run] = []
    for k in (int(k) for k in args.top_k.split(",") if k):
        if len(ranked) < k:
            print(f"student_top{k}: skipped, only {len(ranked)} teachers finished", flush=True)
            continue
        chosen = [f"--teacher={args.out / o.name / 'best'}" for o in ranked[:k]]
        students.append(Run(f"student_top{k}", f"student_top{k}", 13, (*chosen, *shlex.split(args.student_args))))
    distilled = run_all(students, args.out, common, args.parallel) if students else []
    lines = summary(teachers + distilled)
    report = {
        "teachers": [asdict(o) for o in teachers],
        "students": [asdict(o) for o in distilled],
        "summary": lines,
        "common": common,
    }
    atomic_write(args.out / "sweep.json", json.dumps(report, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
