"""RAG hints: index terms found in a chunk become 'term: semantic type / definition' lines in the prompt; kNN
examples and hints together change the prompt in ways a reader can see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_fewshot import DOCS, HashingEncoder  # sibling test module; pytest puts this folder on sys.path

from ctakes_llm.errors import ConfigError
from ctakes_llm.knowledge.index import KnowledgeIndex, build_index
from ctakes_llm.ner.fewshot import ExampleBank, FewShotConfig, FewShotFormat
from ctakes_llm.ner.formats import get_format
from ctakes_llm.ner.rag import HINTS_HEADER, HintProvider, RagConfig, RagFormat

BSV = """\
C0008031|T184|chest pain|Chest Pain
C0004057|T121|aspirin|Aspirin
C0004057|T109|aspirin|Aspirin
C0023884|T023|liver|Liver
C0000000|T047|am|Made-up two-letter term
"""
OBO = """\
format-version: 1.2
data-version: hp/releases/test

[Term]
id: HP:0000118
name: Phenotypic abnormality

[Term]
id: HP:0002315
name: Headache
def: "Cephalgia, or pain sensed in various parts of the head, not confined to any nerve distribution area." []
xref: UMLS:C0018681
is_a: HP:0000118 ! Phenotypic abnormality
"""
TEXT = "At 9 am she took aspirin for chest pain and a headache; the liver was normal."


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeIndex]:
    root = tmp_path_factory.mktemp("kb")
    (root / "d.bsv").write_text(BSV, encoding="utf-8")
    (root / "hp.obo").write_text(OBO, encoding="utf-8")
    build_index(root / "kb.sqlite", bsv=[root / "d.bsv"], vocabularies=[f"hpo={root / 'hp.obo'}"])
    with KnowledgeIndex(root / "kb.sqlite") as opened:
        yield opened


def test_rag_hints_list_terms_with_types_and_definitions(index: KnowledgeIndex) -> None:
    lines = [hint.render() for hint in HintProvider(index).hints(TEXT)]
    assert lines == [
        "- aspirin: Organic Chemical or Pharmacologic Substance",
        "- chest pain: Sign or Symptom",
        "- headache: Phenotypic abnormality / Cephalgia, or pain sensed in various parts of the head, not confined "
        "to any nerve distribution area.",
        "- liver: Body Part, Organ, or Organ Component",
    ]


def test_rag_hints_respect_limits(index: KnowledgeIndex) -> None:
    hints = HintProvider(index, RagConfig(max_hints=1, max_definition_chars=0)).hints(TEXT)
    assert [h.term for h in hints] == ["aspirin"]
    with pytest.raises(ConfigError, match="E590"):
        RagConfig(max_hints=0)


def test_rag_and_knn_change_the_prompt(index: KnowledgeIndex) -> None:
    base = get_format("multi_term")
    bank = ExampleBank.build(DOCS, HashingEncoder(), FewShotConfig(k=1))
    text = "She had chest pain after aspirin."
    plain = base.requests(text)[0]
    with_rag = RagFormat(base, HintProvider(index)).requests(text)[0]
    with_both = FewShotFormat(RagFormat(base, HintProvider(index)), bank).requests(text)[0]
    user = next(m.content for m in with_rag.messages if m.role == "user")
    assert user.startswith(HINTS_HEADER) and "- chest pain: Sign or Symptom" in user
    assert user.endswith(next(m.content for m in plain.messages if m.role == "user"))
    assert len(with_both.messages) == len(with_rag.messages) + 2  # one example: its user turn and gold answer
    assert with_both.messages[-1] == with_rag.messages[-1]
    assert "aspirin" in with_both.messages[-2].content or "chest pain" in with_both.messages[-2].content


def test_rag_without_matches_leaves_request_unchanged(index: KnowledgeIndex) -> None:
    base = get_format("universal_ner")
    text = "Nothing to see here."
    assert RagFormat(base, HintProvider(index)).requests(text) == base.requests(text)
