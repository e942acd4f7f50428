"""Few-shot (kNN) vs random-shot vs zero-shot prompts on a MACCROBAT dev subset.

Two measurements:

1. **Example relevance** (no language model): for every dev sentence, the share of its gold mentions (lower-cased
   text and class) that occur among the gold mentions of the ``k`` examples chosen for it, kNN vs random. It
   says whether similarity selection brings the answers' vocabulary into the prompt.
2. **End-to-end NER F1** with a generative model through the shared driver (``ner/generative.py``), for zero-shot,
   random-shot and kNN-shot prompts (``FewShotFormat``). With ``--model`` a local causal LM directory is used;
   without it a tiny random-weight Llama is built on the fly (MiniLM's tokenizer), which checks the plumbing
   only: its F1 is ~0 whatever the prompt.

The bank is built from MACCROBAT train documents; scores are on dev documents. Example::

    python benchmarks/bench_fewshot.py --dev-docs 5 --train-docs 60
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from results_log import append_result, config_record

from ctakes_llm.backends.causal_lm import CausalLmConfig, load
from ctakes_llm.corpora.brat import read_brat_corpus
from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import load_label_map
from ctakes_llm.corpora.splits import read_split
from ctakes_llm.evaluation.metrics import score_corpus
from ctakes_llm.ner.chunking import ChunkConfig
from ctakes_llm.ner.fewshot import Example, ExampleBank, FewShotConfig, FewShotFormat, collect_examples
from ctakes_llm.ner.formats import PromptFormat
from ctakes_llm.ner.generative import GenerativeConfig, GenerativeNer

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class BenchConfig:
    """Benchmark options."""

    corpus_dir: Path = REPO.parent / "shared" / "data" / "maccrobat"
    train_docs: int = 60
    dev_docs: int = 5
    k: int = 3
    mmr_lambda: float | None = None
    model: str | None = None
    prompt_format: str = "multi_term"
    max_new_tokens: int = 48
    seed: int = 0
    cache_dir: Path = Path.home() / ".cache" / "ctakes-llm" / "fewshot"
    results_dir: Path = REPO / "benchmarks" / "results"


class RandomBank(ExampleBank):
    """The same examples, chosen at random (seeded) instead of by similarity."""

    def __init__(self, bank: ExampleBank, seed: int) -> None:
        super().__init__(bank.examples, bank.embeddings, bank.encoder, bank.config)
        self.random = random.Random(seed)

    def select(self, text: str, k: int | None = None, *, exclude_doc: str | None = None) -> list[Example]:
        pool = [e for e in self.examples if e.doc_id != exclude_doc and e.text != text]
        return self.random.sample(pool, k or self.config.k)


def example_relevance(bank: ExampleBank, dev: Sequence[GoldDocument], config: BenchConfig) -> dict[str, float]:
    """Mean share of a dev sentence's gold mentions found among its examples' gold mentions."""
    sentences = collect_examples(dev, FewShotConfig(min_mentions=1, max_chars=2000))
    shares: dict[str, list[float]] = {"knn": [], "random": []}
    random_bank = RandomBank(bank, config.seed)
    for sentence in sentences:
        gold = {(m.text.lower(), m.cls) for m in sentence.mentions}
        for name, chooser in (("knn", bank), ("random", random_bank)):
            seen = {(m.text.lower(), m.cls) for e in chooser.select(sentence.text, config.k) for m in e.mentions}
            shares[name].append(len(gold & seen) / len(gold))
    return {name: round(float(np.mean(values)), 4) for name, values in shares.items()} | {"sentences": len(sentences)}


def tiny_random_model(directory: Path) -> str:
    """A 2-layer random-weight Llama with MiniLM's tokenizer, saved to ``directory`` (plumbing only)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ctakes_llm.ner.fewshot import default_encoder_path

    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path(), local_files_only=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.eos_token = tokenizer.sep_token
    tokenizer.save_pretrained(directory)
    return str(directory)


def end_to_end(bank: ExampleBank, dev: Sequence[GoldDocument], config: BenchConfig) -> dict[str, Any]:
    """Strict and lenient micro F1 of zero-, random- and kNN-shot prompts."""
    with tempfile.TemporaryDirectory() as tmp:
        model = config.model or tiny_random_model(Path(tmp) / "tiny")
        generative = GenerativeConfig(
            prompt_format=config.prompt_format, chunk=ChunkConfig(max_tokens=96, overlap_tokens=0)
        )
        backend = load(model, CausalLmConfig(generative=generative, max_new_tokens=config.max_new_tokens, device="cpu"))

        def count(text: str) -> int:
            return len(backend.tokenizer(text, add_special_tokens=False)["input_ids"])

        results: dict[str, Any] = {"model": config.model or "tiny random Llama (plumbing only)"}
        gold = {doc.doc_id: list(doc.mentions) for doc in dev}
        for name in ("zero_shot", "random_shot", "knn_shot"):
            ner = GenerativeNer(backend.generate, count, generative)  # its own driver, so the format can change
            base: PromptFormat = ner.format
            if name == "random_shot":
                ner.format = FewShotFormat(base, RandomBank(bank, config.seed), config.k)
            elif name == "knn_shot":
                ner.format = FewShotFormat(base, bank, config.k)
            start = time.perf_counter()
            pred = {doc.doc_id: mentions for doc, mentions in zip(dev, ner.predict([d.text for d in dev]), strict=True)}
            scores = score_corpus(gold, pred, bootstrap=0)
            results[name] = {
                "strict_f1": round(scores.micro("strict").f1, 4),
                "lenient_f1": round(scores.micro("lenient").f1, 4),
                "counts": {
                    k: v
                    for k, v in ner.counters.items()
                    if k in ("chunks", "requests", "grounded", "ungrounded", "unparseable")
                },
                "seconds": round(time.perf_counter() - start, 1),
            }
            logger.info("%s: %s", name, results[name])
        return results


def main(config: BenchConfig) -> dict[str, Any]:
    """Run both measurements and append one JSON line to ``results_dir/fewshot.jsonl``."""
    label_map = load_label_map("maccrobat")
    train_ids = read_split(config.corpus_dir, "train")[: config.train_docs]
    dev_ids = read_split(config.corpus_dir, "dev")[: config.dev_docs]
    train = read_brat_corpus(config.corpus_dir / "brat", label_map, train_ids)
    dev = read_brat_corpus(config.corpus_dir / "brat", label_map, dev_ids)
    start = time.perf_counter()
    bank = ExampleBank.build(
        train, config=FewShotConfig(k=config.k, mmr_lambda=config.mmr_lambda), cache_dir=config.cache_dir
    )
    bank_seconds = time.perf_counter() - start
    relevance = example_relevance(bank, dev, config)
    logger.info("example relevance: %s", relevance)
    record = {
        "device": "cpu",
        "dataset": "maccrobat",
        "bank": f"train[:{config.train_docs}] ({len(bank.examples)} sentences, {bank_seconds:.1f} s incl. cache)",
        "split": f"dev[:{config.dev_docs}]",
        "encoder": bank.encoder.model_path,
        "config": config_record(config),
        "example_relevance": relevance,
        "end_to_end": end_to_end(bank, dev, config),
    }
    append_result("fewshot", record, config.results_dir)
    logger.info("%s", json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-docs", type=int, default=60)
    parser.add_argument("--dev-docs", type=int, default=5)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--mmr-lambda", type=float, default=None)
    parser.add_argument("--model", default=None, help="a local causal LM directory; default: tiny random model")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(
        BenchConfig(
            train_docs=args.train_docs,
            dev_docs=args.dev_docs,
            k=args.k,
            mmr_lambda=args.mmr_lambda,
            model=args.model,
            max_new_tokens=args.max_new_tokens,
        )
    )
