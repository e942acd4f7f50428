"""Speed of the BSV dictionary lookup with a large synthetic dictionary over the ACI-bench visit notes.

The dictionary mixes word n-grams taken from the notes (so terms really occur, as in a clinical vocabulary) with
random pseudo-word terms, each given a TUI of one of the five cTAKES classes. It is written as a cTAKES BSV file and
read back, so loading is measured the way users load dictionaries. Reported: BSV read and index build times, then
per-pass lookup time over all notes (median and spread over repeats, after a warm-up pass), as notes/s and
characters/s, for the bare matcher and for the annotator's ``find_mentions`` (sentence split + lookup + classes).

Example::

    python benchmarks/bench_dictionary.py --entries 200000
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass
from pathlib import Path

from results_log import append_result, config_record

from ctakes_llm.annotators.dictionary import DictionaryAnnotator, DictionaryConfig
from ctakes_llm.knowledge.bsv import read_bsv
from ctakes_llm.knowledge.dictionary_matcher import DictionaryMatcher, MatchPolicy

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
CLASS_TUIS = ("T047", "T184", "T121", "T061", "T023")


@dataclass(frozen=True)
class BenchConfig:
    """Benchmark options."""

    notes_dir: Path = REPO.parent / "shared" / "data" / "aci_bench" / "challenge_data"
    entries: int = 200_000
    note_ngram_share: float = 0.5
    repeats: int = 5
    seed: int = 13
    policy: MatchPolicy = MatchPolicy.LONGEST
    results_dir: Path = REPO / "benchmarks" / "results"


def load_notes(notes_dir: Path) -> list[str]:
    """Every ``note`` of the ACI-bench challenge CSVs (metadata files skipped)."""
    notes: list[str] = []
    for path in sorted(notes_dir.glob("*.csv")):
        if path.stem.endswith("_metadata"):
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            notes.extend(row["note"] for row in csv.DictReader(handle) if row.get("note"))
    return notes


def synthetic_bsv_rows(notes: list[str], config: BenchConfig) -> list[str]:
    """``CUI|TUI|text`` rows: n-grams of the notes' words and random pseudo-word terms, all distinct."""
    rng = random.Random(config.seed)
    words = [w for note in notes for w in note.lower().split() if w.isalpha()]
    wanted_from_notes = int(config.entries * config.note_ngram_share)
    terms: dict[str, None] = {}
    while len(terms) < wanted_from_notes:
        size = rng.choice((1, 1, 2, 2, 3, 4))
        start = rng.randrange(len(words) - size)
        terms[" ".join(words[start : start + size])] = None
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(terms) < config.entries:
        size = rng.choice((1, 2, 3))
        terms[" ".join("".join(rng.choices(letters, k=rng.randint(4, 10))) for _ in range(size))] = None
    return [f"C{i:07d}|{rng.choice(CLASS_TUIS)}|{term}" for i, term in enumerate(terms)]


def _timed_passes(run: Callable[[str], Sized], notes: list[str], repeats: int) -> tuple[list[float], int]:
    """Seconds per pass over all notes (after one warm-up pass) and the number of results of one pass."""
    results = sum(len(run(note)) for note in notes)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for note in notes:
            run(note)
        seconds.append(time.perf_counter() - start)
    return seconds, results


def _rates(seconds: list[float], notes: list[str]) -> dict[str, float]:
    median = statistics.median(seconds)
    chars = sum(len(n) for n in notes)
    return {
        "pass_seconds_median": round(median, 4),
        "pass_seconds_min": round(min(seconds), 4),
        "pass_seconds_max": round(max(seconds), 4),
        "notes_per_second": round(len(notes) / median, 1),
        "chars_per_second": round(chars / median),
        "ms_per_note": round(1000 * median / len(notes), 3),
    }


def evaluate(config: BenchConfig) -> dict[str, object]:
    """Build the dictionary, time loading and lookup, and return the numbers."""
    notes = load_notes(config.notes_dir)
    rows = synthetic_bsv_rows(notes, config)
    with tempfile.TemporaryDirectory() as folder:
        bsv = Path(folder) / "synthetic.bsv"
        bsv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        entries = read_bsv(bsv)
        read_seconds = time.perf_counter() - start
        start = time.perf_counter()
        matcher = DictionaryMatcher(entries)
        build_seconds = time.perf_counter() - start
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        annotator = DictionaryAnnotator(DictionaryConfig(bsv, policy=config.policy), matcher=matcher)
        match_seconds, matches = _timed_passes(
            lambda note: matcher.find(note, policy=config.policy), notes, config.repeats
        )
        mention_seconds, mentions = _timed_passes(annotator.find_mentions, notes, config.repeats)
    return {
        "notes": len(notes),
        "characters": sum(len(n) for n in notes),
        "dictionary_entries": matcher.entry_count,
        "dictionary_terms": matcher.term_count,
        "bsv_read_seconds": round(read_seconds, 3),
        "index_build_seconds": round(build_seconds, 3),
        "max_rss_growth_mib": round((rss_after - rss_before) / 1024, 1),
        "matches_per_pass": matches,
        "mentions_per_pass": mentions,
        "matcher": _rates(match_seconds, notes),
        "find_mentions": _rates(mention_seconds, notes),
    }


def main(config: BenchConfig) -> dict[str, object]:
    """Evaluate, log the numbers and append one JSON line to ``results_dir/dictionary.jsonl``."""
    numbers = evaluate(config)
    record = {
        "dataset": "aci_bench (all 207 notes; unannotated, throughput only)",
        "config": config_record(config),
        **numbers,
    }
    append_result("dictionary", record, config.results_dir)
    logger.info("%s", json.dumps(numbers, indent=2))
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=BenchConfig.entries)
    parser.add_argument("--repeats", type=int, default=BenchConfig.repeats)
    parser.add_argument("--policy", choices=[p.value for p in MatchPolicy], default=BenchConfig.policy.value)
    parser.add_argument("--notes-dir", type=Path, default=BenchConfig.notes_dir)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(
        BenchConfig(
            notes_dir=args.notes_dir, entries=args.entries, repeats=args.repeats, policy=MatchPolicy(args.policy)
        )
    )
