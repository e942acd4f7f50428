"""Few-shot example bank: sentence examples from gold documents, kNN / MMR selection, the on-disk cache, the
MiniLM encoder, and a prompt that changes when examples are added."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.fewshot import (
    ExampleBank,
    FewShotConfig,
    FewShotFormat,
    SentenceEncoder,
    collect_examples,
)
from ctakes_llm.ner.formats import get_format
from ctakes_llm.ner.mention import Mention, MentionClass


def _doc(doc_id: str, text: str, terms: dict[str, MentionClass]) -> GoldDocument:
    mentions = []
    for term, cls in terms.items():
        begin = text.index(term)
        mentions.append(Mention(cls, begin, begin + len(term), term))
    return GoldDocument(doc_id, text, tuple(sorted(mentions, key=lambda m: (m.begin, m.end))))


DOCS = [
    _doc(
        "d1",
        "The patient reported severe chest pain at rest. He was given aspirin in the emergency room.",
        {"chest pain": MentionClass.SIGN_SYMPTOM, "aspirin": MentionClass.MEDICATION},
    ),
    _doc(
        "d2",
        "A CT scan of the abdomen showed a large liver mass. Biopsy confirmed hepatocellular carcinoma.",
        {
            "CT scan": MentionClass.PROCEDURE,
            "abdomen": MentionClass.ANATOMICAL_SITE,
            "liver mass": MentionClass.SIGN_SYMPTOM,
            "Biopsy": MentionClass.PROCEDURE,
            "hepatocellular carcinoma": MentionClass.DISEASE_DISORDER,
        },
    ),
    _doc(
        "d3",
        "She complained of chest pain radiating to the left arm. No other findings were noted today.",
        {"chest pain": MentionClass.SIGN_SYMPTOM, "left arm": MentionClass.ANATOMICAL_SITE},
    ),
]


class HashingEncoder(SentenceEncoder):
    """A bag-of-words encoder: deterministic, instant, and similar sentences share words."""

    def __init__(self) -> None:
        super().__init__("hashing-test-encoder")
        self.calls = 0

    @property
    def fingerprint(self) -> str:
        return "hashing-v1"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for word in text.lower().replace(".", " ").split():
                row[zlib.crc32(word.encode()) % 64] += 1.0
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def test_fewshot_collect_examples_rebases_mentions_to_sentences() -> None:
    examples = collect_examples(DOCS)
    assert [e.text for e in examples][:2] == [
        "The patient reported severe chest pain at rest.",
        "He was given aspirin in the emergency room.",
    ]
    for example in examples:
        assert all(example.text[m.begin : m.end] == m.text for m in example.mentions)
    assert "No other findings were noted today." not in {e.text for e in examples}  # no mention


def test_fewshot_select_nearest_and_exclude_document() -> None:
    bank = ExampleBank.build(DOCS, HashingEncoder(), FewShotConfig(k=2))
    picked = bank.select("Chest pain at rest for two days.")
    assert [e.doc_id for e in picked][:2] == ["d1", "d3"]
    assert all(e.doc_id != "d1" for e in bank.select("Chest pain at rest.", exclude_doc="d1"))


def test_fewshot_mmr_trades_similarity_for_diversity() -> None:
    docs = [
        *DOCS,
        _doc("d4", "The patient reported severe chest pain at rest today.", {"chest pain": MentionClass.SIGN_SYMPTOM}),
    ]
    plain = ExampleBank.build(docs, HashingEncoder(), FewShotConfig(k=2))
    diverse = ExampleBank.build(docs, HashingEncoder(), FewShotConfig(k=2, mmr_lambda=0.3))
    query = "The patient reported severe chest pain."
    assert {e.doc_id for e in plain.select(query)} == {"d1", "d4"}  # two near-duplicates
    assert len({e.text.split()[0] for e in diverse.select(query)}) == 2  # the second pick is not the duplicate


def test_fewshot_embeddings_are_cached_on_disk(tmp_path: Path) -> None:
    encoder = HashingEncoder()
    first = ExampleBank.build(DOCS, encoder, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("fewshot-*.npz"))) == 1
    calls = encoder.calls
    second = ExampleBank.build(DOCS, encoder, cache_dir=tmp_path)
    assert encoder.calls == calls  # read from the cache, not encoded again
    np.testing.assert_array_equal(first.embeddings, second.embeddings)


def test_fewshot_prompt_carries_the_examples_and_parses_like_the_base() -> None:
    base = get_format("universal_ner")
    fmt = FewShotFormat(base, ExampleBank.build(DOCS, HashingEncoder(), FewShotConfig(k=1)))
    text = "Patient with chest pain since morning."
    plain, shot = base.requests(text), fmt.requests(text)
    assert len(plain) == len(shot)
    symptom = next(i for i, r in enumerate(shot) if r.cls is MentionClass.SIGN_SYMPTOM)
    contents = [m.content for m in shot[symptom].messages]
    assert len(shot[symptom].messages) > len(plain[symptom].messages)
    assert '["chest pain"]' in contents  # the example's gold answer
    assert shot[symptom].messages[-1] == plain[symptom].messages[-1]
    assert (
        fmt.parse('["chest pain"]', shot[symptom], text).proposals
        == base.parse('["chest pain"]', plain[symptom], text).proposals
    )


def test_fewshot_config_validates() -> None:
    with pytest.raises(ConfigError, match="E580"):
        FewShotConfig(k=0)
    with pytest.raises(ConfigError, match="E581"):
        FewShotConfig(mmr_lambda=1.5)


@pytest.mark.slow  # loads torch, transformers and the MiniLM weights (~20 s on a shared CPU)
def test_fewshot_minilm_encoder_ranks_paraphrase_first() -> None:
    encoder = SentenceEncoder()
    vectors = encoder.encode(
        ["The patient has a fever.", "Temperature was elevated at 39 C.", "The invoice is due next week."]
    )
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
