"""Where benchmark runs go: one JSON line per run in ``benchmarks/results/<benchmark>.jsonl``.

Every record starts with what makes the numbers reproducible and comparable: the git commit (and whether the tree
had uncommitted changes), Python and library versions, and the machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from ctakes_llm.cas.atomic import atomic_open

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
_LIBRARIES = ("ctakes-llm", "torch", "transformers", "dkpro-cassis", "tokenizers")


def run_metadata() -> dict[str, Any]:
    """Commit, versions and machine of this run."""
    sha = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "git_sha": sha + ("-dirty" if dirty else ""),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in _LIBRARIES},
        "machine": {"arch": platform.machine(), "cpu": _cpu_name(), "cores": os.cpu_count()},
    }


def append_result(benchmark: str, record: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Append ``{"benchmark": ..., **run_metadata(), **record}`` as one line; the file is rewritten atomically."""
    path = Path(results_dir) / f"{benchmark}.jsonl"
    line = json.dumps({"benchmark": benchmark, **run_metadata(), **record}, default=str)
    previous = path.read_text(encoding="utf-8") if path.exists() else ""
    with atomic_open(path, "w") as handle:
        handle.write(previous + line + "\n")
    return path


def config_record(config: Any) -> dict[str, str]:
    """A benchmark's config dataclass as strings, so paths and enums land in JSON as the user typed them."""
    return {key: str(value) for key, value in asdict(config).items()}


def spread(values: Sequence[float], digits: int = 3) -> dict[str, float]:
    """Median, minimum, maximum and count of repeated measurements: the median is the number, the range its noise."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
