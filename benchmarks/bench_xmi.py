"""Speed of XMI writing and reading: cassis against ours, on a folder of XMI files.

Writing: cassis's ``Cas.to_xmi()`` against our ``serialize_xmi``, deciding type plans per document (``ours``) and
keeping them across documents in one ``XmiPlans`` (``ours_kept``, as a run does). Reading: cassis's
``load_cas_from_xmi`` against our ``deserialize_xmi``, plus the whole ``cas_from_xmi_bytes`` path and the path as it
was before our reader (the scan for what the type system lacks, then cassis). Every XMI is read once; then each
repeat runs every function on every file (interleaved, so all see the same machine load), after one warm-up pass
that also checks that ours gives cassis's bytes, and cassis's CAS (its XMI and its next xmi id). Reported per
function: milliseconds per 1,000 characters of document text and microseconds per feature structure, as the median
over repeats (CPU time of this process, and wall time) with min and max.

Example::

    ctakes-llm annotate runs/aci_txt -o runs/aci_out
    python benchmarks/bench_xmi.py runs/aci_out --repeats 7
    python benchmarks/bench_xmi.py ../shared/ctakes/ctakes-run-output/xmi
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any

from cassis import Cas, TypeSystem, load_cas_from_xmi
from results_log import append_result, config_record, spread

from ctakes_llm.cas.xmi import _plan_additions, _scan, cas_from_xmi_bytes, read_xmi
from ctakes_llm.cas.xmi_reader import XmiNotRead, deserialize_xmi
from ctakes_llm.cas.xmi_writer import XmiNotReproduced, XmiPlans, serialize_xmi

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


def serializers() -> dict[str, Callable[[Cas], bytes]]:
    """The writers compared; ``ours_kept`` holds its plans from the first document it writes to the last."""
    return {"cassis": _cassis, "ours": serialize_xmi, "ours_kept": partial(serialize_xmi, plans=XmiPlans())}


def _cassis_read(data: bytes, ts: TypeSystem) -> Cas:
    return load_cas_from_xmi(BytesIO(data), typesystem=ts, lenient=False)


def _read_xmi(data: bytes, ts: TypeSystem) -> Cas:
    return cas_from_xmi_bytes(data, ts, source="bench")


def _before(data: bytes, ts: TypeSystem) -> Cas:
    """What ``cas_from_xmi_bytes`` did before our reader: scan for what ``ts`` lacks (nothing here), then cassis."""
    _plan_additions(_scan(data, ts, "bench"), ts, "bench")
    return _cassis_read(data, ts)


READERS: dict[str, Callable[[bytes, TypeSystem], Cas]] = {
    "cassis": _cassis_read,
    "ours": deserialize_xmi,
    "read_xmi": _read_xmi,
    "before": _before,
}


def _timings(functions: dict[str, Callable[..., Any]], inputs: Sequence[tuple[Any, ...]], repeats: int) -> Any:
    """CPU and wall seconds of each function over all inputs, per repeat, the functions interleaved."""
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    wall: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            for arguments in inputs:
                function(*arguments)
            cpu[name].append(time.process_time() - cpu_start)
            wall[name].append(time.perf_counter() - wall_start)
    return cpu, wall


def _numbers(cpu: list[float], wall: list[float], chars: int, structures: int) -> dict[str, dict[str, float]]:
    return {
        "cpu_ms_per_1k_chars": spread([1e6 * s / chars for s in cpu], 4),
        "wall_ms_per_1k_chars": spread([1e6 * s / chars for s in wall], 4),
        "cpu_us_per_feature_structure": spread([1e6 * s / structures for s in cpu], 4),
    }


def _check_reader(paths: list[Path], cases: list[Cas]) -> list[tuple[bytes, TypeSystem]]:
    """Each file's bytes with the type system it is read with, once ours is seen to build cassis's CAS from it."""
    inputs = []
    declined = different = 0
    for path, cas in zip(paths, cases, strict=True):
        data, ts = path.read_bytes(), cas.typesystem
        try:
            ours = deserialize_xmi(data, ts)
        except XmiNotRead:
            declined += 1
            continue
        theirs = _cassis_read(data, ts)
        different += ours.to_xmi() != theirs.to_xmi() or ours._get_next_xmi_id() != theirs._get_next_xmi_id()
        inputs.append((data, ts))
    if declined or different:
        raise SystemExit(f"our reader declined {declined} and differed on {different} of {len(cases)} files")
    return inputs


def evaluate(config: BenchConfig) -> dict[str, Any]:
    """Read the XMIs, check that ours agree with cassis, time writing and reading and return the numbers."""
    paths = sorted(config.xmi_dir.glob("*.xmi"))
    if not paths:
        raise SystemExit(f"no *.xmi in {config.xmi_dir}: run `ctakes-llm annotate NOTES -o {config.xmi_dir}` first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 4.0.0 descriptor's duplicate refsem types
        cases = [read_xmi(path, config.typesystem) for path in paths]
    writers = serializers()
    declined = different = 0
    for cas in cases:
        try:
            expected = _cassis(cas)
            different += writers["ours"](cas) != expected or writers["ours_kept"](cas) != expected
        except XmiNotReproduced:
            declined += 1
    if declined or different:
        raise SystemExit(f"ours declined {declined} and differed on {different} of {len(cases)} CASes")
    read_inputs = _check_reader(paths, cases)
    chars = sum(len(cas.sofa_string or "") for cas in cases)
    structures = sum(len(list(cas._find_all_fs())) for cas in cases)  # what both write, cas:NULL and sofas aside
    cpu, wall = _timings(writers, [(cas,) for cas in cases], config.repeats)
    numbers: dict[str, Any] = {"files": len(cases), "characters": chars, "feature_structures": structures}
    for name in writers:
        numbers[name] = _numbers(cpu[name], wall[name], chars, structures)
    numbers["speedup_cpu_median"] = round(statistics.median(cpu["cassis"]) / statistics.median(cpu["ours"]), 2)
    numbers["speedup_kept_cpu_median"] = round(
        statistics.median(cpu["cassis"]) / statistics.median(cpu["ours_kept"]), 2
    )
    read_cpu, read_wall = _timings(READERS, read_inputs, config.repeats)
    read: dict[str, object] = {name: _numbers(read_cpu[name], read_wall[name], chars, structures) for name in READERS}
    read["speedup_cpu_median"] = round(statistics.median(read_cpu["cassis"]) / statistics.median(read_cpu["ours"]), 2)
    numbers["read"] = read
    return numbers


def main(config: BenchConfig) -> dict[str, object]:
    """Evaluate, log the numbers and append one JSON line to ``results_dir/xmi.jsonl``."""
    numbers = evaluate(config)
    record = {"dataset": str(config.xmi_dir), "config": config_record(config), **numbers}
    append_result("xmi", record, config.results_dir)
    rows = [("write", name, numbers[name]) for name in serializers()]
    rows += [("read", name, numbers["read"][name]) for name in READERS]
    for what, name, found in rows:
        cpu_ms = found["cpu_ms_per_1k_chars"]
        logger.info(
            "%-5s %-8s %.3f ms per 1k chars (CPU, median of %d; min %.3f, max %.3f)",
            what,
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
    parser.add_argument("--results-dir", type=Path, default=BenchConfig.results_dir)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(BenchConfig(args.xmi_dir, args.typesystem, args.repeats, args.results_dir))
