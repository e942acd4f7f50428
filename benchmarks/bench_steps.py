"""Milliseconds per 1,000 characters of the two rule-based pipeline steps, preprocess and assertion, on ACI-bench notes.

The whole ``annotate`` run has a budget per 1,000 characters and the model takes most of it, so these Python steps
must stay small. Each repeat builds a fresh CAS per note and times only ``PreprocessAnnotator.process`` and
``AssertionAnnotator.process`` (building the CAS and adding mentions are not timed). No model runs: the mentions the
assertion step asserts are synthetic, every third word token of four or more letters, so that most sentences hold
one (the real NER output puts a mention in most sentences too, and the rule engine's cost is per such sentence).

The median, minimum and maximum over the repeats go to one JSON line of ``benchmarks/results/steps.jsonl`` with the
load average before and after, since the machine may be shared.

Example: python benchmarks/bench_steps.py --limit 60 --repeats 7
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench_speed import ACI_DIR, load_notes
from cassis import Cas
from results_log import RESULTS_DIR, append_result, config_record, spread

from ctakes_llm.annotators.assertion import AssertionAnnotator
from ctakes_llm.annotators.preprocess import PreprocessAnnotator
from ctakes_llm.cas.ctakes_types import DISCOVERY_EXPLICIT, WORD_TOKEN
from ctakes_llm.cas.mentions import write_mentions
from ctakes_llm.cas.readers import cas_from_text
from ctakes_llm.cas.typesystem import load_typesystem
from ctakes_llm.ner.mention import Grounding, Mention, MentionClass

logger = logging.getLogger("bench_steps")


@dataclass(frozen=True)
class StepsBenchConfig:
    """What to measure.

    Attributes:
        data_dir: Folder of the ACI-bench challenge CSVs (column ``note``).
        limit: Use the first ``limit`` notes; None uses all.
        repeats: Timed passes over the notes (one untimed warm-up pass comes first).
        results_dir: Where ``steps.jsonl`` goes.
    """

    data_dir: Path = ACI_DIR
    limit: int | None = 60
    repeats: int = 5
    results_dir: Path = RESULTS_DIR


def synthetic_mentions(cas: Cas) -> list[Mention]:
    """Every third word token of four or more letters, as a SignSymptom mention with no attributes."""
    text = cas.sofa_string or ""
    words = [fs for fs in cas.select(WORD_TOKEN) if fs.end - fs.begin >= 4 and text[fs.begin : fs.end].isalpha()]
    return [
        Mention(MentionClass.SIGN_SYMPTOM, fs.begin, fs.end, text[fs.begin : fs.end], grounding=Grounding.MODEL_OFFSETS)
        for fs in words[::3]
    ]


def one_pass(notes: list[str], preprocess: PreprocessAnnotator, assertion: AssertionAnnotator) -> tuple[float, float]:
    """Seconds spent in the two steps over all notes: ``(preprocess, assertion)``."""
    typesystem = load_typesystem()
    preprocess_s = assertion_s = 0.0
    for note in notes:
        cas = cas_from_text(note, typesystem)
        start = time.perf_counter()
        preprocess.process(cas)
        preprocess_s += time.perf_counter() - start
        write_mentions(cas, synthetic_mentions(cas), discovery_technique=DISCOVERY_EXPLICIT)
        start = time.perf_counter()
        assertion.process(cas)
        assertion_s += time.perf_counter() - start
    return preprocess_s, assertion_s


def measure(config: StepsBenchConfig) -> dict[str, object]:
    """Time both steps ``config.repeats`` times and summarize in ms per 1,000 characters."""
    notes = load_notes(config.data_dir, config.limit)
    chars = sum(len(note) for note in notes)
    preprocess, assertion = PreprocessAnnotator(), AssertionAnnotator()
    one_pass(notes, preprocess, assertion)  # warm-up: imports, type system, regex caches
    load_before = os.getloadavg()[0]
    runs = [one_pass(notes, preprocess, assertion) for _ in range(config.repeats)]
    load_after = os.getloadavg()[0]
    result: dict[str, object] = {"notes": len(notes), "chars": chars, "repeats": config.repeats}
    for index, step in enumerate(("preprocess", "assertion")):
        per_1k = [run[index] * 1000 / (chars / 1000) for run in runs]
        result[f"{step}_ms_per_1k_chars"] = spread(per_1k)
    result["mentions_asserted_per_pass"] = assertion.counters["asserted"] // (config.repeats + 1)
    result["load_average"] = {"before": load_before, "after": load_after}
    return result


def main(config: StepsBenchConfig) -> dict[str, object]:
    """Measure, log the medians and append one JSON line to ``results_dir/steps.jsonl``."""
    numbers = measure(config)
    record = {
        "dataset": "aci_bench challenge_data",
        "config": config_record(config),
        **numbers,
    }
    append_result("steps", record, config.results_dir)
    for step in ("preprocess", "assertion"):
        spread = numbers[f"{step}_ms_per_1k_chars"]
        logger.info("%-10s %s ms per 1k chars (median; min-max over repeats)", step, json.dumps(spread))
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=StepsBenchConfig.data_dir)
    parser.add_argument("--limit", type=int, default=StepsBenchConfig.limit, help="first N notes; 0 means all")
    parser.add_argument("--repeats", type=int, default=StepsBenchConfig.repeats)
    parser.add_argument("--results-dir", type=Path, default=StepsBenchConfig.results_dir)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(StepsBenchConfig(args.data_dir, args.limit or None, args.repeats, args.results_dir))
