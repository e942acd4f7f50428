"""UMLS RRF readers on a tiny synthetic Metathesaurus written by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctakes_llm.errors import ConfigError, KnowledgeError
from ctakes_llm.knowledge.rrf import RrfConfig, find_rrf_files, read_mrconso, read_mrdef, read_mrsty

MRCONSO = """\
C0008031|ENG|P|L0008031|PF|S0021990|Y|A0035494||||MSH|MH|D002637|Chest Pain|0|N||
C0008031|ENG|S|L0000001|PF|S0000001|N|A0000001||||SNOMEDCT_US|SY|29857009|Thoracic pain|9|N||
C0008031|FRE|P|L0000002|PF|S0000002|Y|A0000002||||MSHFRE|MH|D002637|Douleur thoracique|3|N||
C0008031|ENG|S|L0000003|PF|S0000003|N|A0000003||||MSH|EN|D002637|Pain, Chest, Obsolete|0|O||
C0011849|ENG|P|L0011849|PF|S0000004|Y|A0000004||||SNOMEDCT_US|PT|73211009|Diabetes mellitus|9|N||
"""
MRSTY = "C0008031|T184|A2.2.2|Sign or Symptom|AT001||\nC0011849|T047|B2.2.1.2.1|Disease or Syndrome|AT002||\n"
MRDEF = "C0011849|A1|AT3||MSH|A metabolic disorder with high blood glucose.|N||\nC0008031|A2|AT4||CSP|Old.|O||\n"


def write_rrf(folder: Path, *, mrdef: bool = True) -> Path:
    """A synthetic UMLS release in ``folder/META``."""
    meta = folder / "META"
    meta.mkdir(parents=True)
    (meta / "MRCONSO.RRF").write_text(MRCONSO, encoding="utf-8")
    (meta / "MRSTY.RRF").write_text(MRSTY, encoding="utf-8")
    if mrdef:
        (meta / "MRDEF.RRF").write_text(MRDEF, encoding="utf-8")
    return folder


def test_rrf_find_files_looks_in_meta_subfolder(tmp_path: Path) -> None:
    files = find_rrf_files(write_rrf(tmp_path))
    assert files.mrconso.name == "MRCONSO.RRF" and files.mrdef is not None


def test_rrf_find_files_names_the_folder_when_missing(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match=f"E562.*{tmp_path.name}"):
        find_rrf_files(tmp_path)


def test_rrf_mrconso_keeps_language_and_drops_suppressed(tmp_path: Path) -> None:
    files = find_rrf_files(write_rrf(tmp_path))
    terms = list(read_mrconso(files.mrconso))
    assert [t.text for t in terms] == ["Chest Pain", "Thoracic pain", "Diabetes mellitus"]
    assert terms[0].preferred and not terms[1].preferred
    assert (terms[1].sab, terms[1].code) == ("SNOMEDCT_US", "29857009")


def test_rrf_mrconso_filters_sources(tmp_path: Path) -> None:
    files = find_rrf_files(write_rrf(tmp_path))
    terms = list(read_mrconso(files.mrconso, RrfConfig(sources=("SNOMEDCT_US",))))
    assert [t.text for t in terms] == ["Thoracic pain", "Diabetes mellitus"]


def test_rrf_mrsty_and_mrdef(tmp_path: Path) -> None:
    files = find_rrf_files(write_rrf(tmp_path))
    assert next(iter(read_mrsty(files.mrsty))) == ("C0008031", "T184", "Sign or Symptom")
    assert files.mrdef is not None
    assert list(read_mrdef(files.mrdef)) == [("C0011849", "MSH", "A metabolic disorder with high blood glucose.")]


def test_rrf_short_row_is_an_error_with_line(tmp_path: Path) -> None:
    path = tmp_path / "MRSTY.RRF"
    path.write_text("C0008031|T184\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"E564.*line 1"):
        list(read_mrsty(path))


def test_rrf_config_validates() -> None:
    with pytest.raises(ConfigError, match="E560"):
        RrfConfig(languages=())
