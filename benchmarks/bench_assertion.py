"""Negation and uncertainty P/R/F1 of the assertion rules on MACCROBAT's POLARITY attributes, gold mentions in.

Each gold mention of the five classes is stripped of its attributes and asserted by the rule engine; a mention is a
negation positive when ``polarity == "-1"`` and an uncertainty positive when ``uncertainty == "1"``. MACCROBAT's
NEG maps to negated, UNCERTAIN / MAYBE_POS / MAYBE_NEG to uncertain (``corpora/brat.py``). MACCROBAT puts
POLARITY only on events, never on anatomy (Biological_structure), so the ``*_without_anatomy`` numbers leave
AnatomicalSite mentions out: there the gold cannot say "negated".

Example::

    python benchmarks/bench_assertion.py --split test
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

from results_log import append_result, config_record

from ctakes_llm.assertion.context import ContextConfig, ContextEngine
from ctakes_llm.corpora.brat import read_brat_corpus
from ctakes_llm.corpora.label_map import load_label_map
from ctakes_llm.corpora.splits import read_split
from ctakes_llm.evaluation.metrics import Counts
from ctakes_llm.ner.mention import MentionClass

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class BenchConfig:
    """Benchmark options."""

    corpus_dir: Path = REPO.parent / "shared" / "data" / "maccrobat"
    split: str = "test"
    max_scope: int | None = 8
    results_dir: Path = REPO / "benchmarks" / "results"


def evaluate(config: BenchConfig) -> dict[str, object]:
    """Run the engine on the split's gold mentions and return the counts and scores."""
    ids = read_split(config.corpus_dir, config.split)
    docs = read_brat_corpus(config.corpus_dir / "brat", load_label_map("maccrobat"), ids)
    engine = ContextEngine(config=ContextConfig(max_scope=config.max_scope))
    negation, uncertainty = Counts(), Counts()
    negation_events, uncertainty_events = Counts(), Counts()
    mentions = 0
    start = time.perf_counter()
    for doc in docs:
        bare = [replace(m, attributes={}) for m in doc.mentions]
        predicted = engine.classify(doc.text, bare)
        for gold, attrs in zip(doc.mentions, predicted, strict=True):
            mentions += 1
            neg = _count(gold.attributes.get("polarity") == "-1", attrs["polarity"] == "-1")
            unc = _count(gold.attributes.get("uncertainty") == "1", attrs["uncertainty"] == "1")
            negation, uncertainty = negation + neg, uncertainty + unc
            if gold.cls is not MentionClass.ANATOMICAL_SITE:
                negation_events, uncertainty_events = negation_events + neg, uncertainty_events + unc
    seconds = time.perf_counter() - start
    return {
        "documents": len(docs),
        "mentions": mentions,
        "negation": negation.to_dict(),
        "uncertainty": uncertainty.to_dict(),
        "negation_without_anatomy": negation_events.to_dict(),
        "uncertainty_without_anatomy": uncertainty_events.to_dict(),
        "seconds": round(seconds, 3),
    }


def _count(gold: bool, predicted: bool) -> Counts:
    return Counts(tp=int(gold and predicted), fp=int(predicted and not gold), fn=int(gold and not predicted))


def main(config: BenchConfig) -> dict[str, object]:
    """Evaluate, log the numbers and append one JSON line to ``results_dir/assertion.jsonl``."""
    numbers = evaluate(config)
    record = {
        "dataset": "maccrobat",
        "split": config.split,
        "config": config_record(config),
        "engine": "ctakes_llm.assertion.context rules_en.json",
        **numbers,
    }
    append_result("assertion", record, config.results_dir)
    logger.info("%s", json.dumps(numbers, indent=2))
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"])
    parser.add_argument("--corpus-dir", type=Path, default=BenchConfig.corpus_dir)
    parser.add_argument("--max-scope", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(BenchConfig(corpus_dir=args.corpus_dir, split=args.split, max_scope=args.max_scope))
