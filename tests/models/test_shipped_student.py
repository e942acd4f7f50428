"""The student shipped in the package: the weights its model card names, and its MACCROBAT dev F1 through the
default CPU path (OpenVINO int8) against torch float32, so a speed-up that costs F1 fails here, not in a user's run."""

from __future__ import annotations

import hashlib
import platform
import re
from pathlib import Path

import pytest

from ctakes_llm.backends.model_source import default_model_dir
from ctakes_llm.backends.token_classifier import TokenClassifierBackend, TokenClassifierConfig
from ctakes_llm.corpora.brat import read_brat_corpus
from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import load_label_map
from ctakes_llm.corpora.splits import read_split
from ctakes_llm.evaluation.metrics import score_corpus
from ctakes_llm.ner.mention import MentionClass


def test_model_card_names_the_shipped_weights() -> None:
    folder = Path(default_model_dir())
    stated = re.search(r"`model\.safetensors` sha256: `([0-9a-f]{64})`", (folder / "README.md").read_text("utf-8"))
    assert stated is not None, "the model card must give the weights' sha256"
    assert hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest() == stated.group(1)


@pytest.fixture(scope="module")
def dev_documents(shared_dir: Path) -> list[GoldDocument]:
    corpus = shared_dir / "data" / "maccrobat"
    return read_brat_corpus(corpus / "brat", load_label_map("maccrobat"), read_split(corpus, "dev"))


def _strict_f1(backend: TokenClassifierBackend, documents: list[GoldDocument]) -> float:
    gold = {document.doc_id: list(document.mentions) for document in documents}
    predicted = dict(zip(gold, backend.predict([document.text for document in documents]), strict=True))
    return score_corpus(gold, predicted, classes=tuple(MentionClass), bootstrap=0).micro("strict").f1


def test_default_cpu_path_keeps_the_float32_f1_on_maccrobat_dev(dev_documents: list[GoldDocument]) -> None:
    default = TokenClassifierBackend(TokenClassifierConfig(device="cpu"))
    if platform.machine() in ("x86_64", "AMD64"):  # where openvino and nncf install with the package
        assert (default.describe()["runtime"], default.describe()["dtype"]) == ("openvino", "int8")
    reference = TokenClassifierBackend(TokenClassifierConfig(device="cpu", runtime="torch", dtype="float32"))
    reference_f1, default_f1 = _strict_f1(reference, dev_documents), _strict_f1(default, dev_documents)
    assert reference_f1 > 0.66  # measured 0.676 (OpenVINO int8: 0.679)
    assert abs(default_f1 - reference_f1) <= 0.01, (default_f1, reference_f1)
