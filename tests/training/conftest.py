"""Fixtures for training tests: a tiny random BERT with the packaged MiniLM tokenizer, and a tiny MACCROBAT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DOCS = {
    "a": (
        "The patient had fever and was given aspirin. A CT of the chest showed pneumonia.\n",
        [
            "T1\tSign_symptom 16 21\tfever",
            "T2\tMedication 36 43\taspirin",
            "T3\tDiagnostic_procedure 47 49\tCT",
            "T4\tBiological_structure 57 62\tchest",
            "T5\tDisease_disorder 70 79\tpneumonia",
        ],
    ),
    "b": (
        "She denied pain. Biopsy of the liver was normal.\n",
        [
            "T1\tSign_symptom 11 15\tpain",
            "E1\tSign_symptom:T1 ",
            "A1\tPOLARITY E1 NEG",
            "T2\tDiagnostic_procedure 17 23\tBiopsy",
            "T3\tBiological_structure 31 36\tliver",
        ],
    ),
}


@pytest.fixture(scope="session")
def tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from ctakes_llm.training.model_io import default_base_model

    return AutoTokenizer.from_pretrained(str(default_base_model()))


@pytest.fixture()
def tiny_base(tmp_path: Path, tokenizer) -> Path:  # type: ignore[no-untyped-def]
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    folder = tmp_path / "tiny-base"
    BertModel(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture()
def tiny_data(tmp_path: Path) -> Path:
    corpus = tmp_path / "data" / "maccrobat"
    (corpus / "brat").mkdir(parents=True)
    for doc_id, (text, lines) in DOCS.items():
        (corpus / "brat" / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        (corpus / "brat" / f"{doc_id}.ann").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (corpus / "split.json").write_text(json.dumps({"train": ["a", "b"], "dev": ["b"], "test": ["b"]}))
    return tmp_path / "data"
