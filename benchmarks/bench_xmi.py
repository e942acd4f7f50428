"""Speed of XMI serialization: cassis's ``Cas.to_xmi()`` against our ``serialize_xmi``, on a folder of XMI files.

Every XMI is read once; then each repeat serializes every CAS with cassis and with ours (interleaved, so both see
the same machine load), after one warm-up pass that also checks that the two give the same bytes. Reported per
serializer: milliseconds per 1,000 characters of document text and microseconds per feature structure, as the
median over repeats (CPU time of this process, and wall time) with min and max.

Example::

    ctakes-llm annotate runs/aci_txt -o runs/aci_out
    python benchmarks/bench_xmi.py runs/aci_out --repeats 7
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from cassis import Cas
from results_log import append_result

from ctakes_llm.cas.xmi import read_xmi
from ctakes_llm.cas.xmi_writer import XmiNotReproduced, serialize_xmi

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class BenchConfig:
    """Benchmark options."""

    xmi_dir: Path = REPO / "runs" / "aci_out"
    typesystem: str = "4.0.0"
    repeats: int = 7
    results_dir: Path = REPO / "benchmarks" / "results"


def _cassis(cas: Cas) -> bytes:
    xmi: str = cas.to_xmi()  # the text, as no path is given
    return xmi.encode("utf-8")


SERIALIZERS: dict[str, Callable[[Cas], bytes]] = {"cassis": _cassis, "ours": serialize_xmi}


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def evaluate(config: BenchConfig) -> dict[str, object]:
    """Read the XMIs, check that both serializers agree, time them and return the numbers."""
    paths = sorted(config.xmi_dir.glob("*.xmi"))
    if not paths:
        raise SystemExit(f"no *.xmi in {config.xmi_dir}: run `ctakes-llm annotate NOTES -o {config.xmi_dir}` first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 4.0.0 descriptor's duplicate refsem types
        cases = [read_xmi(path, config.typesystem) for path in paths]
    declined = different = 0
    for cas in cases:
        try:
            different += serialize_xmi(cas) != _cassis(cas)
        except XmiNotReproduced:
            declined += 1
    if declined or different:
        raise SystemExit(f"ours declined {declined} and differed on {different} of {len(cases)} CASes")
    chars = sum(len(cas.sofa_string or "") for cas in cases)
    structures = sum(len(list(cas._find_all_fs())) for cas in cases)  # what both write, cas:NULL and sofas aside
    cpu: dict[str, list[float]] = {name: [] for name in SERIALIZERS}
    wall: dict[str, list[float]] = {name: [] for name in SERIALIZERS}
    for _ in range(config.repeats):
        for name, serialize in SERIALIZERS.items():
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            for cas in cases:
                serialize(cas)
            cpu[name].append(time.process_time() - cpu_start)
            wall[name].append(time.perf_counter() - wall_start)
    numbers: dict[str, object] = {"files": len(cases), "characters": chars, "feature_structures": structures}
    for name in SERIALIZERS:
        numbers[name] = {
            "cpu_ms_per_1k_chars": _summary([1e6 * s / chars for s in cpu[name]]),
            "wall_ms_per_1k_chars": _summary([1e6 * s / chars for s in wall[name]]),
            "cpu_us_per_feature_structure": _summary([1e6 * s / structures for s in cpu[name]]),
        }
    numbers["speedup_cpu_median"] = round(statistics.median(cpu["cassis"]) / statistics.median(cpu["ours"]), 2)
    return numbers


def main(config: BenchConfig) -> dict[str, object]:
    """Evaluate, log the numbers and append one JSON line to ``results_dir/xmi.jsonl``."""
    numbers = evaluate(config)
    record = {"dataset": str(config.xmi_dir), "config": {k: str(v) for k, v in asdict(config).items()}, **numbers}
    append_result("xmi", record, config.results_dir)
    for name in SERIALIZERS:
        cpu_ms: dict[str, float] = numbers[name]["cpu_ms_per_1k_chars"]  # type: ignore[index]
        logger.info(
            "%-6s %.3f ms per 1k chars (CPU, median of %d; min %.3f, max %.3f)",
            name,
            cpu_ms["median"],
            config.repeats,
            cpu_ms["min"],
            cpu_ms["max"],
        )
    logger.info("%s", json.dumps(numbers, indent=2))
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("xmi_dir", type=Path, nargs="?", default=BenchConfig.xmi_dir)
    parser.add_argument("--typesystem", default=BenchConfig.typesystem)
    parser.add_argument("--repeats", type=int, default=BenchConfig.repeats)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(BenchConfig(xmi_dir=args.xmi_dir, typesystem=args.typesystem, repeats=args.repeats))
